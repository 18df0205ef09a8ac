package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// deployCategory is the event category of a deploy for reason.
func deployCategory(reason string) string {
	if state.IsRollback(reason) {
		return notify.CatRollback
	}
	return notify.CatDeploy
}

// rollback pins an app to an earlier revision (or pushes a revert commit)
// after checking that the app is declared, and valid, at that revision.
func (c *Controller) rollback(ctx context.Context, rs *repoState, st state.AppState, a Action) (state.AppState, error) {
	target := a.To
	if a.Previous {
		prev, err := c.previousRevision(ctx, st)
		if err != nil {
			return st, err
		}
		target = prev
	}
	rev, err := rs.cfg.Source.Revision(ctx, target)
	if err != nil {
		return st, fmt.Errorf("%w: revision %q: %v", state.ErrBadRequest, target, err)
	}
	d, err := c.loadAt(rs, rev)
	if err != nil {
		return st, fmt.Errorf("%w: %v", state.ErrConflict, err)
	}
	if _, ok := d.Apps[a.App]; !ok {
		return st, fmt.Errorf("%w: %s is not declared at %s", state.ErrConflict, a.App, rev.Short())
	}
	caller := a.Caller
	if caller == "" {
		caller = "api"
	}
	if a.Revert {
		rv, ok := rs.cfg.Source.(Reverter)
		if !ok {
			return st, fmt.Errorf("%w: the source of %s cannot push revert commits", state.ErrBadRequest, a.Repo)
		}
		nrev, err := rv.Revert(ctx, sources.RevertOptions{To: rev.SHA,
			Reason: fmt.Sprintf("Requested by %s via driftless rollback --revert of %s/%s.", caller, a.Repo, a.App)})
		if err != nil {
			return st, fmt.Errorf("%w: reverting to %s: %v", state.ErrConflict, rev.Short(), c.opt.Scrub(err.Error()))
		}
		c.log.Info("pushed a revert commit", "repo", a.Repo, "app", a.App, "revision", nrev.SHA, "to", rev.SHA, "caller", caller)
		// The revert commit is deployed as a rollback; history names who asked.
		return c.requestForce(ctx, a.Repo, a.App, state.ReasonRevert, caller)
	}
	head := st.DesiredRevision
	if rs.rev != nil {
		head = rs.rev.SHA
	}
	st, err = c.opt.Store.Update(ctx, a.Repo, a.App, func(s *state.AppState) error {
		s.PinnedRevision, s.PinnedFrom, s.PinnedBy, s.PinnedAt = rev.SHA, head, caller, c.opt.Now().UTC()
		s.Status, s.UpdatedAt = state.StatusPinned, c.opt.Now().UTC()
		s.Forced, s.ForcedBy = state.ReasonRollback, caller
		return nil
	})
	if err != nil {
		return st, err
	}
	c.setStatus(st.Repo, st.App, st.Status)
	c.log.Info("pinned", "repo", a.Repo, "app", a.App, "revision", rev.SHA, "quarantined_head", head, "caller", caller)
	return st, nil
}

// previousRevision is the revision applied by the successful deploy before
// the one that made the app's current live state.
func (c *Controller) previousRevision(ctx context.Context, st state.AppState) (string, error) {
	h, err := c.opt.Store.History(ctx, st.Repo, st.App)
	if err != nil {
		return "", err
	}
	var cur string
	for _, r := range h {
		if r.Outcome != "succeeded" {
			continue
		}
		if cur == "" {
			cur = r.Revision
			continue
		}
		if r.Revision != cur {
			return r.Revision, nil
		}
	}
	return "", fmt.Errorf("%w: %s/%s has no earlier successful deploy to roll back to", state.ErrConflict, st.Repo, st.App)
}

// unpin makes the app follow the branch again.
func (c *Controller) unpin(ctx context.Context, rs *repoState, repo, app, why string) (state.AppState, error) {
	st, err := c.opt.Store.Update(ctx, repo, app, func(s *state.AppState) error {
		s.PinnedRevision, s.PinnedFrom, s.PinnedBy, s.PinnedAt = "", "", "", time.Time{}
		if s.Status == state.StatusPinned {
			s.Status = state.StatusOutOfSync
		}
		s.UpdatedAt = c.opt.Now().UTC()
		return nil
	})
	if err != nil {
		return st, err
	}
	c.setStatus(st.Repo, st.App, st.Status)
	c.log.Info("unpinned: following the branch again", "repo", repo, "app", app, "why", why)
	return st, nil
}

// pinReleased reports whether a commit newer than the quarantined head has
// landed, which ends the pin.
func (c *Controller) pinReleased(ctx context.Context, rs *repoState, st state.AppState, head string) bool {
	if st.PinnedFrom == "" || head == st.PinnedFrom {
		return false
	}
	ok, err := rs.cfg.Source.IsAncestor(ctx, st.PinnedFrom, head)
	return err == nil && ok
}

// reconcilePinned keeps a pinned app at its pinned revision's desired state.
func (c *Controller) reconcilePinned(ctx context.Context, rs *repoState, app *manifest.App, st state.AppState, forced bool) outcome {
	repo := rs.cfg.Name
	// What is planned and applied here is the pinned revision, not the
	// branch head the caller's logger names.
	log := c.log.With("repo", repo, "app", app.Name, "revision", st.PinnedRevision, "branch_head", rs.rev.SHA)
	prev, err := rs.cfg.Source.Revision(ctx, st.PinnedRevision)
	var d *manifest.Desired
	if err == nil {
		d, err = c.loadAt(rs, prev)
	}
	if err != nil {
		log.Error("cannot read the pinned revision", "pinned", st.PinnedRevision, "error", err)
		c.save(ctx, st, func(s *state.AppState) {
			s.Status, s.LastError = state.StatusFailed, "pinned revision: "+c.opt.Scrub(err.Error())
		})
		return outcomeBlocked
	}
	papp, ok := d.Apps[app.Name]
	if !ok {
		c.save(ctx, st, func(s *state.AppState) {
			s.Status, s.LastError = state.StatusFailed, fmt.Sprintf("%s is not declared at the pinned revision %s", app.Name, prev.Short())
		})
		return outcomeBlocked
	}
	spec, derr := c.decode(ctx, rs, d, prev, papp)
	hash := ""
	if derr == nil {
		hash = specHash(app.Kind, spec)
	}
	head := rs.rev.SHA
	if !forced && derr == nil && st.AppliedRevision == prev.SHA && hash == st.SpecHash && st.Status != state.StatusFailed {
		if st.Status != state.StatusPinned || st.DesiredRevision != head {
			c.save(ctx, st, func(s *state.AppState) { s.Status, s.DesiredRevision = state.StatusPinned, head })
		}
		return outcomeReady
	}
	if !forced && st.Status == state.StatusFailed && st.FailedRevision == prev.SHA && st.FailedSpecHash == hash &&
		(st.RetryAt.IsZero() || c.opt.Now().Before(st.RetryAt)) {
		return outcomeBlocked
	}
	if derr != nil {
		c.fail(ctx, rs, prev, papp, st, hash, "", derr, time.Time{}, state.ReasonRollback)
		return outcomeBlocked
	}
	res := c.deploy(ctx, rs, prev, papp, st, spec, hash, state.ReasonRollback, log)
	// The branch head stays the desired revision; the app shows as pinned.
	final, err := c.opt.Store.Get(ctx, repo, app.Name)
	if err == nil {
		c.save(ctx, final, func(s *state.AppState) {
			s.DesiredRevision = head
			if s.Status == state.StatusSynced {
				s.Status = state.StatusPinned
			}
		})
	}
	return res
}

// loadAt loads (and caches) the desired state of an older revision.
func (c *Controller) loadAt(rs *repoState, rev *sources.Revision) (*manifest.Desired, error) {
	if rs.rev != nil && rs.rev.SHA == rev.SHA && rs.desired != nil {
		return rs.desired, nil
	}
	rs.fmu.Lock()
	d, ok := rs.loaded[rev.SHA]
	rs.fmu.Unlock()
	if ok {
		return d, nil
	}
	d, diags := c.opt.Loader.Load(rs.cfg.Name, rev.Tree, rs.cfg.Path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("the manifests at %s are invalid: %s", rev.Short(), strings.Join(manifest.Format(diags), "; "))
	}
	rs.fmu.Lock()
	if rs.loaded == nil || len(rs.loaded) > 16 {
		rs.loaded = map[string]*manifest.Desired{}
	}
	rs.loaded[rev.SHA] = d
	rs.fmu.Unlock()
	return d, nil
}
