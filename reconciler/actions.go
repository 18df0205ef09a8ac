package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// Action is a request from the API or CLI.
type Action struct {
	Repo, App string
	Action    string // reconcile, rollback, unpin, approve, suspend, resume
	To        string // rollback: revision
	Previous  bool   // rollback: the revision applied before the current one
	Revert    bool   // rollback: push a revert commit instead of pinning
	Caller    string // who asked
	PlanID    string // approve: the id of the plan the approver saw ("": the plan awaiting approval)
}

// Apps returns every app's state, sorted by repo and app.
// When the store cannot be read (NATS unreachable), the answer is the last
// list read, so the API keeps serving through an outage.
func (c *Controller) Apps(ctx context.Context) ([]state.AppState, error) {
	states, err := c.opt.Store.List(ctx)
	if err != nil {
		if cached, ok := c.cachedApps(); ok {
			c.log.Warn("serving the last known app state: the store is unreachable", "error", err)
			return cached, nil
		}
		return nil, fmt.Errorf("listing apps: %w", err)
	}
	marks := map[string]state.RepoState{}
	for i, st := range states {
		m, ok := marks[st.Repo]
		if !ok {
			m, _ = c.opt.Store.Repo(ctx, st.Repo) // unreadable: the stored state as it is
			marks[st.Repo] = m
		}
		states[i] = m.Current(st)
	}
	state.Sort(states)
	c.mu.Lock()
	c.lastApps = states
	c.mu.Unlock()
	return states, nil
}

func (c *Controller) cachedApps() ([]state.AppState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastApps == nil {
		return nil, false
	}
	out := make([]state.AppState, len(c.lastApps))
	for i, s := range c.lastApps {
		out[i] = s.Clone()
	}
	return out, true
}

// App returns one app's state (state.ErrNotFound when unknown), from the last
// known list when the store is unreachable.
func (c *Controller) App(ctx context.Context, repo, app string) (state.AppState, error) {
	st, err := c.opt.Store.Get(ctx, repo, app)
	if errors.Is(err, state.ErrNotFound) {
		return state.AppState{}, fmt.Errorf("%w: app %s/%s", state.ErrNotFound, repo, app)
	}
	if err != nil {
		if cached, ok := c.cachedApps(); ok {
			for _, s := range cached {
				if s.Repo == repo && s.App == app {
					return s, nil
				}
			}
		}
		return st, err
	}
	m, _ := c.opt.Store.Repo(ctx, repo) // unreadable: the stored state as it is
	return m.Current(st), nil
}

// History returns an app's deploys and rollbacks, newest first.
func (c *Controller) History(ctx context.Context, repo, app string) ([]state.DeployRecord, error) {
	if _, err := c.App(ctx, repo, app); err != nil {
		return nil, err
	}
	return c.opt.Store.History(ctx, repo, app)
}

// Act carries out an action on one app and returns its state. Actions that
// deploy are queued for the repo's loop, which is triggered at once.
func (c *Controller) Act(ctx context.Context, a Action) (state.AppState, error) {
	rs, ok := c.repos[a.Repo]
	if !ok {
		return state.AppState{}, fmt.Errorf("%w: repo %q", state.ErrNotFound, a.Repo)
	}
	st, err := c.App(ctx, a.Repo, a.App)
	if err != nil {
		return state.AppState{}, err
	}
	log := c.log.With("repo", a.Repo, "app", a.App, "action", a.Action, "caller", a.Caller)
	switch a.Action {
	case "reconcile":
		if st, err = c.requestForce(ctx, a.Repo, a.App, state.ReasonManual, a.Caller); err != nil {
			return st, err
		}
	case "suspend", "resume":
		st, err = c.recorderFor(a.Repo, a.App).update(ctx, func(s *state.AppState) error {
			s.Suspended = a.Action == "suspend"
			if s.Suspended {
				s.Status = state.StatusSuspended
			} else if s.Status == state.StatusSuspended {
				s.Status = state.StatusOutOfSync
			}
			if a.Action == "resume" {
				s.Forced, s.ForcedBy = state.ReasonManual, a.Caller
			}
			return nil
		})
		if err != nil {
			return state.AppState{}, err
		}
	case "approve":
		if err := c.checkApproval(st); err != nil {
			return st, err
		}
		if err := checkPlanID(st, a.PlanID); err != nil {
			return st, err
		}
		if err := c.checkApprovalCurrent(ctx, rs, st); err != nil {
			c.Trigger(a.Repo) // plan the new revision now
			return st, err
		}
		st, err = c.recorderFor(a.Repo, a.App).update(ctx, func(s *state.AppState) error {
			if err := checkPlanID(*s, a.PlanID); err != nil {
				return err // a new plan was recorded meanwhile
			}
			s.Forced, s.ForcedBy, s.ApprovedPlan = state.ReasonApproved, a.Caller, s.LastPlan.ID
			return nil
		})
		if err != nil {
			return st, err
		}
	case "rollback":
		if (a.To == "") == !a.Previous {
			return st, fmt.Errorf("%w: rollback needs exactly one of to and previous", state.ErrBadRequest)
		}
		st, err = c.rollback(ctx, rs, st, a)
		if err != nil {
			return st, err
		}
	case "unpin":
		if st.PinnedRevision == "" {
			return st, fmt.Errorf("%w: %s/%s is not pinned", state.ErrConflict, a.Repo, a.App)
		}
		if err = c.unpin(ctx, c.recorderFor(a.Repo, a.App), "unpin requested by "+a.Caller); err != nil {
			return st, err
		}
		if st, err = c.requestForce(ctx, a.Repo, a.App, state.ReasonManual, a.Caller); err != nil {
			return st, err
		}
	default:
		return st, fmt.Errorf("%w: unknown action %q", state.ErrBadRequest, a.Action)
	}
	log.Info("action accepted")
	c.Trigger(a.Repo)
	if c.opt.Broadcast != nil {
		c.opt.Broadcast(a.Repo)
	}
	return st, nil
}

// requestForce records an action for the replica that reconciles the repo.
func (c *Controller) requestForce(ctx context.Context, repo, app, reason, caller string) (state.AppState, error) {
	st, err := c.recorderFor(repo, app).update(ctx, func(s *state.AppState) error {
		s.Forced, s.ForcedBy = reason, caller
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("recording the %s request: %w", reason, err)
	}
	return st, nil
}

// takeForced consumes the app's forced action, if any.
func (c *Controller) takeForced(ctx context.Context, rec *recorder) (reason, caller string, ok bool) {
	if rec.st.Forced == "" {
		return "", "", false
	}
	reason, caller = rec.st.Forced, rec.st.ForcedBy
	consumed := false
	err := rec.save(ctx, func(s *state.AppState) {
		consumed = s.Forced == reason && s.ForcedBy == caller
		if consumed {
			s.Forced, s.ForcedBy = "", ""
			if reason == state.ReasonApproved {
				rec.approved, s.ApprovedPlan = s.ApprovedPlan, ""
			}
		}
	})
	if err != nil {
		rec.log.Error("consuming a forced action", "error", err)
		return "", "", false
	}
	if !consumed {
		return "", "", false // another replica (whose repo lease lapsed) took it first
	}
	return reason, caller, true
}

// checkApproval refuses an approval unless a plan awaits it.
func (c *Controller) checkApproval(st state.AppState) error {
	c.mu.Lock()
	p, ok := c.pending[st.Repo+"/"+st.App]
	c.mu.Unlock()
	if !ok && st.Status == state.StatusAwaitingApproval && st.LastPlan != nil && st.LastPlan.Revision == st.DesiredRevision {
		// The plan is in the memory of the replica that reconciles the
		// repo, or was lost with a restart: the approval names its id, and
		// only a plan with that id is applied (planned again if need be).
		return nil
	}
	if st.Status != state.StatusAwaitingApproval || !ok {
		return fmt.Errorf("%w: %s/%s has no plan awaiting approval (status %s)", state.ErrConflict, st.Repo, st.App, st.Status)
	}
	if st.LastPlan == nil || p.plan.ID != st.LastPlan.ID || p.rev.SHA != st.DesiredRevision {
		return fmt.Errorf("%w: the pending plan of %s/%s is no longer the plan for the current revision; a new plan will await approval", state.ErrConflict, st.Repo, st.App)
	}
	return nil
}

// checkPlanID refuses an approval of a plan other than the one awaiting
// approval: the approver must have seen the plan that is applied.
func checkPlanID(st state.AppState, planID string) error {
	if st.LastPlan == nil {
		return fmt.Errorf("%w: %s/%s has no plan awaiting approval", state.ErrConflict, st.Repo, st.App)
	}
	if planID != "" && planID != st.LastPlan.ID {
		return fmt.Errorf("%w: refused: you approved plan %s, but the plan awaiting approval of %s/%s is %s (%s); review it and approve that one",
			state.ErrConflict, planID, st.Repo, st.App, st.LastPlan.ID, st.LastPlan.Summary)
	}
	return nil
}

// checkApprovalCurrent refuses an approval when the branch has moved past
// the pending plan's revision with a commit that touches the app (its files
// or the manifests): that plan is no longer the plan for the current
// revision, and the next sync plans again for approval.
func (c *Controller) checkApprovalCurrent(ctx context.Context, rs *repoState, st state.AppState) error {
	c.mu.Lock()
	p, ok := c.pending[st.Repo+"/"+st.App]
	c.mu.Unlock()
	if !ok {
		return nil // another replica holds the plan and checks it there
	}
	head, _, err := rs.cfg.Source.Poll(ctx)
	if err != nil || head.SHA == p.rev.SHA {
		return nil
	}
	paths, err := rs.cfg.Source.ChangedPaths(ctx, p.rev.SHA, head.SHA)
	inputs := append(p.req.Spec.Inputs(), rs.cfg.Path)
	if err == nil && !touches(paths, inputs) {
		return nil
	}
	return fmt.Errorf("%w: refused: commit %s landed after the plan awaiting approval (%s) and changes %s/%s; a fresh plan for %s will await approval",
		state.ErrConflict, head.Short(), p.rev.Short(), st.Repo, st.App, head.Short())
}

// recoverInterrupted sets the status gauge from the stored state at
// start-up. A single replica (no leases) records the deploys it finds in
// flight as interrupted at once: nothing else can be running them. With
// leases, the app's next run takes them over under the app lease (see
// takeOverInterrupted).
func (c *Controller) recoverInterrupted(ctx context.Context) {
	states, err := c.opt.Store.List(ctx)
	if err != nil {
		c.log.Error("reading app state at start-up", "error", err)
		return
	}
	for _, st := range states {
		c.setStatus(st.Repo, st.App, st.Status)
		if st.InFlight != nil && c.opt.Leases == nil {
			rec := c.recorderFor(st.Repo, st.App)
			rec.adopt(st)
			c.recordInterrupted(ctx, rec)
		}
	}
}

// takeOverInterrupted handles a deploy found in flight at reconcile time.
// Its process's app lease still held means the deploy is running: it
// reports false. Otherwise that process died mid-deploy: once the lease is
// ours, and a grace period has passed in which a process cut off from NATS
// stops by itself, the deploy is recorded as interrupted and the app is
// planned again.
func (c *Controller) takeOverInterrupted(ctx context.Context, rec *recorder) bool {
	lease, err := c.holdApp(ctx, rec.repo, rec.app)
	if err != nil {
		return false
	}
	defer c.release(lease)
	if lease != nil && rec.st.InFlight.Holder != c.holder {
		if !sleepCtx(ctx, c.opt.TakeoverGrace) {
			return false
		}
	}
	rec.lease = lease
	defer func() { rec.lease = nil }()
	if err := rec.load(ctx); err != nil {
		return false
	}
	return rec.st.InFlight == nil || c.recordInterrupted(ctx, rec)
}

// recordInterrupted closes the deploy in flight in rec's state, which
// stopped with its process: history, a failed event, and the app out of
// sync so that it is planned again.
func (c *Controller) recordInterrupted(ctx context.Context, rec *recorder) bool {
	dep := *rec.st.InFlight
	dep.FinishedAt, dep.Outcome = c.opt.Now().UTC(), "interrupted"
	dep.Error = fmt.Sprintf("interrupted: replica %q stopped during the deploy; the app will be planned again", dep.Replica)
	rec.log.Warn("deploy was interrupted", "deploy_id", dep.ID, "interrupted_revision", dep.Revision, "replica", dep.Replica, "holder", dep.Holder)
	if err := rec.save(ctx, func(s *state.AppState) {
		s.InFlight, s.LastDeploy, s.Status, s.LastError = nil, &dep, state.StatusOutOfSync, dep.Error
	}); err != nil {
		return false
	}
	rec.history(ctx, dep)
	rec.emit(ctx, deployCategory(dep.Reason), notify.ActFailed, notify.Data{Repo: rec.repo, App: rec.app, Kind: rec.st.Kind,
		Revision: dep.Revision, PreviousRevision: rec.st.AppliedRevision, Author: dep.Author, PR: dep.PR,
		DeployID: dep.ID, Error: dep.Error, Reason: dep.Reason})
	return true
}

// sleepCtx waits d; it reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
