package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sort"

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
	}
	return st, err
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
		st, err = c.opt.Store.Update(ctx, a.Repo, a.App, func(s *state.AppState) error {
			s.Suspended = a.Action == "suspend"
			if s.Suspended {
				s.Status = state.StatusSuspended
			} else if s.Status == state.StatusSuspended {
				s.Status = state.StatusOutOfSync
			}
			if a.Action == "resume" {
				s.Forced, s.ForcedBy = state.ReasonManual, a.Caller
			}
			s.UpdatedAt = c.opt.Now().UTC()
			return nil
		})
		if err != nil {
			return state.AppState{}, err
		}
		c.setStatus(st.Repo, st.App, st.Status)
	case "approve":
		if err := c.checkApproval(st); err != nil {
			return st, err
		}
		if err := c.checkApprovalCurrent(ctx, rs, st); err != nil {
			c.Trigger(a.Repo) // plan the new revision now
			return st, err
		}
		if st, err = c.requestForce(ctx, a.Repo, a.App, state.ReasonApproved, a.Caller); err != nil {
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
		if _, err = c.unpin(ctx, rs, a.Repo, a.App, "unpin requested by "+a.Caller); err != nil {
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
	st, err := c.opt.Store.Update(ctx, repo, app, func(s *state.AppState) error {
		s.Forced, s.ForcedBy = reason, caller
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("recording the %s request: %w", reason, err)
	}
	return st, nil
}

// takeForced consumes the app's forced action, if any.
func (c *Controller) takeForced(ctx context.Context, st *state.AppState) (reason, caller string, ok bool) {
	if st.Forced == "" {
		return "", "", false
	}
	reason, caller = st.Forced, st.ForcedBy
	consumed := false
	_, err := c.opt.Store.Update(ctx, st.Repo, st.App, func(s *state.AppState) error {
		consumed = s.Forced == reason && s.ForcedBy == caller
		if consumed {
			s.Forced, s.ForcedBy = "", ""
		}
		return nil
	})
	if err != nil {
		c.log.Error("consuming a forced action", "repo", st.Repo, "app", st.App, "error", err)
		return "", "", false
	}
	st.Forced, st.ForcedBy = "", ""
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
	if !ok && c.opt.Leases != nil && st.Status == state.StatusAwaitingApproval && st.LastPlan != nil && st.LastPlan.Revision == st.DesiredRevision {
		// With replicas, the plan is in the memory of the replica that
		// reconciles the repo: it applies it if it is still the plan of the
		// current revision, and plans again otherwise.
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

// recoverInterrupted finds deploys that were in flight when this replica
// (or a single-replica controller) stopped, records them as interrupted and
// lets the loop plan the app again.
func (c *Controller) recoverInterrupted(ctx context.Context) {
	states, err := c.opt.Store.List(ctx)
	if err != nil {
		c.log.Error("reading app state at start-up", "error", err)
		return
	}
	sort.Slice(states, func(i, j int) bool { return states[i].Repo+"/"+states[i].App < states[j].Repo+"/"+states[j].App })
	for _, st := range states {
		c.setStatus(st.Repo, st.App, st.Status)
		if st.InFlight == nil || (st.InFlight.Replica != "" && st.InFlight.Replica != c.opt.Instance) {
			continue
		}
		c.recordInterrupted(ctx, st)
	}
}

// takeOverInterrupted handles a deploy found in flight at reconcile time.
// When its replica still holds the app's lease, the deploy is running and
// it reports false. Otherwise the replica died mid-deploy: the deploy is
// recorded as interrupted and the app is planned again.
func (c *Controller) takeOverInterrupted(ctx context.Context, st *state.AppState) bool {
	if st.InFlight.Replica == c.opt.Instance && c.opt.Leases == nil {
		c.recordInterrupted(ctx, *st)
	} else {
		lease, err := c.holdApp(ctx, st.Repo, st.App)
		if err != nil {
			return false
		}
		c.recordInterrupted(ctx, *st) // under the app lease: nobody else applies it meanwhile
		c.release(lease)
	}
	fresh, err := c.opt.Store.Get(ctx, st.Repo, st.App)
	if err != nil {
		return false
	}
	*st = fresh
	return true
}

// recordInterrupted closes a deploy that stopped with its replica.
func (c *Controller) recordInterrupted(ctx context.Context, st state.AppState) {
	dep := *st.InFlight
	dep.FinishedAt, dep.Outcome = c.opt.Now().UTC(), "interrupted"
	dep.Error = fmt.Sprintf("interrupted: replica %q stopped during the deploy; the app will be planned again (a Terraform state lock left behind is reported by the next plan, never force-unlocked)", dep.Replica)
	c.log.Warn("deploy was interrupted", "repo", st.Repo, "app", st.App, "deploy_id", dep.ID, "revision", dep.Revision, "replica", dep.Replica)
	still := false
	saved, err := c.opt.Store.Update(ctx, st.Repo, st.App, func(s *state.AppState) error {
		// Recorded already, or another deploy started since st was read.
		still = s.InFlight != nil && s.InFlight.ID == dep.ID
		if still {
			s.InFlight, s.LastDeploy, s.Status, s.LastError = nil, &dep, state.StatusOutOfSync, dep.Error
			s.UpdatedAt = c.opt.Now().UTC()
		}
		return nil
	})
	if err != nil {
		c.log.Error("recording an interrupted deploy", "repo", st.Repo, "app", st.App, "deploy_id", dep.ID, "error", err)
		return
	}
	if !still {
		return
	}
	c.setStatus(saved.Repo, saved.App, saved.Status)
	c.history(ctx, st.Repo, st.App, dep)
	c.opt.Events.Emit(ctx, deployCategory(dep.Reason), notify.ActFailed, notify.Data{Repo: st.Repo, App: st.App, Kind: st.Kind,
		Revision: dep.Revision, PreviousRevision: st.AppliedRevision, Author: dep.Author, PR: dep.PR,
		DeployID: dep.ID, Error: dep.Error, Reason: dep.Reason})
}
