package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

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
	if cur, _ := rs.current(); cur != nil {
		head = cur.SHA
	}
	st, err = c.recorderFor(a.Repo, a.App).update(ctx, func(s *state.AppState) error {
		s.PinnedRevision, s.PinnedFrom, s.PinnedBy, s.PinnedAt = rev.SHA, head, caller, c.opt.Now().UTC()
		s.Status = state.StatusPinned
		s.Forced, s.ForcedBy = state.ReasonRollback, caller
		return nil
	})
	if err != nil {
		return st, err
	}
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
func (c *Controller) unpin(ctx context.Context, rec *recorder, why string) error {
	_, err := rec.update(ctx, func(s *state.AppState) error {
		s.PinnedRevision, s.PinnedFrom, s.PinnedBy, s.PinnedAt = "", "", "", time.Time{}
		if s.Status == state.StatusPinned {
			s.Status = state.StatusOutOfSync
		}
		return nil
	})
	if err != nil {
		rec.log.Error("unpinning", "error", err)
		return err
	}
	rec.adopt(rec.st)
	rec.log.Info("unpinned: following the branch again", "why", why)
	return nil
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

// loadAt loads (and caches) the desired state of an older revision.
func (c *Controller) loadAt(rs *repoState, rev *sources.Revision) (*manifest.Desired, error) {
	if cur, d := rs.current(); cur != nil && cur.SHA == rev.SHA {
		return d, nil
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
