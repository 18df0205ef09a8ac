package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// resolvePin chooses the revision to apply: the branch head, or the
// pinned revision while its quarantine lasts.
func (r *appRun) resolvePin(ctx context.Context) verdict {
	st := r.rec.st
	if st.PinnedRevision == "" {
		return next
	}
	if r.c.pinReleased(ctx, r.rs, st, r.head.SHA) {
		if err := r.c.unpin(ctx, r.rec, "a commit newer than the quarantined head landed"); err != nil {
			return blocked
		}
		return next
	}
	// What is planned and applied is the pinned revision, not the head.
	r.log = r.c.log.With("repo", r.rec.repo, "app", r.app.Name, "revision", st.PinnedRevision, "branch_head", r.head.SHA)
	r.rec.log = r.log
	prev, err := r.rs.cfg.Source.Revision(ctx, st.PinnedRevision)
	if err == nil {
		r.d, err = r.c.loadAt(r.rs, prev)
	}
	if err != nil {
		r.log.Error("cannot read the pinned revision", "error", err)
		_ = r.rec.save(ctx, func(s *state.AppState) {
			s.Status, s.LastError, s.DesiredRevision = state.StatusFailed, "pinned revision: "+r.c.opt.Scrub(err.Error()), r.head.SHA
		})
		return blocked
	}
	papp, ok := r.d.Apps[r.app.Name]
	if !ok {
		_ = r.rec.save(ctx, func(s *state.AppState) {
			s.Status, s.DesiredRevision = state.StatusFailed, r.head.SHA
			s.LastError = fmt.Sprintf("%s is not declared at the pinned revision %s", r.app.Name, prev.Short())
		})
		return blocked
	}
	r.app, r.rev, r.pinned = papp, prev, true
	return next
}

// makePlan plans the app; a plan without changes ends the run.
func (r *appRun) makePlan(ctx context.Context) verdict {
	if r.plan != nil {
		return next // the approved plan
	}
	deployID := notify.NewID()
	r.log = r.log.With("deploy_id", deployID)
	r.req = appliers.Request{Repo: r.rec.repo, App: r.app.Name, Revision: r.rev.SHA, Spec: r.spec, Tree: r.rev.Tree,
		DeployID: deployID, Log: r.log, Observer: appliers.NopObserver{}}
	r.start = r.c.opt.Now()
	if m := r.c.metrics(); m != nil {
		m.StacksPlanned.WithLabelValues(r.rec.repo, r.app.Kind).Inc()
	}
	plan, err := r.c.opt.Loader.Applier(r.app.Kind).Plan(ctx, r.req)
	if err != nil && r.breakOrphanLock(ctx, err) {
		plan, err = r.c.opt.Loader.Applier(r.app.Kind).Plan(ctx, r.req)
	}
	if err != nil {
		r.req.DeployID = "" // no deploy started: a plan failure
		r.fail(ctx, fmt.Errorf("plan: %w", err))
		return blocked
	}
	r.plan = plan
	r.planRec = &state.PlanRecord{Revision: r.rev.SHA, ID: plan.ID, Changed: plan.Changed, Summary: plan.Summary,
		Changes: plan.Changes, At: r.c.opt.Now().UTC()}
	if !plan.Changed {
		r.log.Info("no changes", "summary", plan.Summary)
		_ = r.rec.save(ctx, func(s *state.AppState) {
			s.Kind, s.DesiredRevision, s.AppliedRevision, s.SpecHash = r.app.Kind, r.head.SHA, r.rev.SHA, r.hash
			s.Status, s.LastPlan = r.syncedStatus(), r.planRec
			clearFailure(s)
		})
		r.rec.count("noop")
		if r.reason == state.ReasonRollback {
			d := r.data(deployID)
			d.Summary = "no changes: live state already matches " + r.rev.Short()
			r.rec.emit(ctx, notify.CatRollback, notify.ActSucceeded, d)
		}
		return ready
	}
	r.rec.emit(ctx, notify.CatPlan, notify.ActReady, r.planData())
	return next
}

// awaitApproval stops at a plan that needs a person's approval.
func (r *appRun) awaitApproval(ctx context.Context) verdict {
	ar, ok := r.spec.(appliers.ApprovalRequirer)
	if !ok || !ar.ApprovalRequired() || r.reason == state.ReasonRollback {
		return next
	}
	if r.reason == state.ReasonApproved && (r.rec.approved == "" || r.plan.ID == r.rec.approved) {
		return next // exactly the plan that was approved
	}
	if r.reason == state.ReasonApproved {
		r.log.Warn("the new plan differs from the approved one; it awaits approval", "approved_plan", r.rec.approved, "plan_id", r.plan.ID)
		r.reason = state.ReasonCommit
	}
	r.c.setPending(r.rec.repo, r.app.Name, &pendingPlan{plan: r.plan, req: r.req, specHash: r.hash, rev: r.rev})
	r.log.Info("plan awaits approval", "summary", r.plan.Summary, "plan_id", r.plan.ID)
	_ = r.rec.save(ctx, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.Status, s.LastPlan = r.app.Kind, r.head.SHA, state.StatusAwaitingApproval, r.planRec
		s.LastError = ""
	})
	r.rec.emit(ctx, notify.CatPlan, notify.ActAwaitingApproval, r.planData())
	r.rec.count("awaiting_approval")
	return blocked
}

// apply carries out the plan under the app's lease and records the outcome.
func (r *appRun) apply(ctx context.Context) verdict {
	lease, err := r.c.holdApp(ctx, r.rec.repo, r.app.Name)
	if err != nil {
		r.log.Warn("not applying now", "error", err)
		return blocked
	}
	defer r.c.release(lease)
	r.rec.lease = lease
	dep := &state.DeployRecord{ID: r.req.DeployID, Revision: r.rev.SHA, Author: r.rev.Author, PR: r.rev.PR, Reason: r.reason,
		StartedAt: r.start.UTC(), Changes: r.plan.Changes, Replica: r.c.opt.Instance, Holder: r.c.holder, Who: r.c.who, Caller: r.caller}
	// The in-flight marker is written, revision-checked, before anything
	// is applied: a replica that deployed the app since this run read its
	// state fences this one here, and no marker means no apply.
	err = r.rec.save(ctx, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.Status, s.LastPlan, s.InFlight = r.app.Kind, r.head.SHA, state.StatusProgressing, r.planRec, dep
	})
	if err != nil {
		if errors.Is(err, errFenced) {
			r.log.Info("not applying: another replica deployed this app since it was planned; deciding again")
		} else {
			r.log.Error("not applying: the in-flight marker could not be saved", "error", err)
		}
		return blocked
	}
	started := r.planData()
	r.rec.emit(ctx, deployCategory(r.reason), notify.ActStarted, started)
	r.log.Info("applying", "summary", r.plan.Summary)
	actx, stop := lease.bind(ctx)
	defer stop()
	r.req.Observer = &observer{rec: r.rec, ctx: ctx, base: started, scrub: r.c.opt.Scrub}
	res, err := r.c.opt.Loader.Applier(r.app.Kind).Apply(actx, r.req, r.plan)
	if !lease.valid() {
		err = fmt.Errorf("%w: the app lease was lost during the apply (apply: %v)", errFenced, err)
	}
	if err != nil {
		r.fail(ctx, err)
		return blocked
	}
	dur := r.c.opt.Now().Sub(r.start)
	dep.FinishedAt, dep.Outcome = r.c.opt.Now().UTC(), "succeeded"
	if len(res.Changes) > 0 {
		dep.Changes = res.Changes
	}
	if res.Outputs != nil {
		r.c.setOutputs(r.rec.repo, r.app.Name, res.Outputs)
	}
	if err := r.rec.save(ctx, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.AppliedRevision, s.SpecHash = r.app.Kind, r.head.SHA, r.rev.SHA, r.hash
		s.Status, s.LastDeploy, s.InFlight = r.syncedStatus(), dep, nil
		clearFailure(s)
	}); err != nil {
		return blocked
	}
	r.rec.history(ctx, *dep)
	done := started
	done.Changes, done.DurationMS = dep.Changes, dur.Milliseconds()
	r.rec.emit(ctx, deployCategory(r.reason), notify.ActSucceeded, done)
	r.log.Info("deploy succeeded", "duration_ms", dur.Milliseconds())
	r.rec.count("succeeded")
	r.rec.observeDuration(r.app.Kind, dur)
	return ready
}

// fail records a failed plan or apply. r.req.DeployID is set when
// deploy.started was emitted.
func (r *appRun) fail(ctx context.Context, err error) {
	st := r.rec.st
	msg := r.c.opt.Scrub(err.Error())
	if errors.Is(err, errFenced) {
		r.rec.fenced = true
		r.log.Warn("deploy stopped: this replica no longer holds the app", "error", msg)
		return
	}
	stalled := appliers.IsStalled(err)
	transient, after := appliers.IsTransient(err)
	repeat := st.Status == state.StatusFailed && st.FailedRevision == r.rev.SHA && st.FailedSpecHash == r.hash && st.LastError == msg
	attempts := st.Attempts + 1
	var retryAt time.Time
	if !stalled {
		retryAt = r.c.opt.Now().Add(max(backoff(time.Minute, attempts, 30*time.Minute), after))
	}
	deployID := r.req.DeployID
	r.log.Error("deploy failed", "error", msg, "stalled", stalled, "transient", transient, "attempt", attempts, "retry_at", retryAt)
	var dep *state.DeployRecord
	if deployID != "" {
		dep = &state.DeployRecord{ID: deployID, Revision: r.rev.SHA, Author: r.rev.Author, PR: r.rev.PR, Reason: r.reason,
			StartedAt: r.start.UTC(), FinishedAt: r.c.opt.Now().UTC(), Outcome: "failed", Error: msg,
			Replica: r.c.opt.Instance, Holder: r.c.holder, Who: r.c.who, Caller: r.caller}
		if st.InFlight != nil {
			dep.StartedAt, dep.Changes = st.InFlight.StartedAt, st.InFlight.Changes
		}
	}
	if err := r.rec.save(ctx, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.Status, s.LastError = r.app.Kind, r.head.SHA, state.StatusFailed, msg
		s.FailedRevision, s.FailedSpecHash, s.Attempts, s.RetryAt = r.rev.SHA, r.hash, attempts, retryAt
		s.InFlight = nil
		if dep != nil {
			s.LastDeploy = dep
		}
	}); err != nil {
		return
	}
	r.rs.setRetry(r.app.Name, retryAt)
	if dep != nil {
		r.rec.history(ctx, *dep)
	}
	r.rec.count("failed")
	// Announce a failure once: a deploy that started always gets its end,
	// a plan failure only when it differs from the last one reported.
	if deployID == "" && repeat {
		return
	}
	data := r.data(deployID)
	data.Error = msg
	if !r.start.IsZero() && deployID != "" {
		data.DurationMS = r.c.opt.Now().Sub(r.start).Milliseconds()
	}
	r.rec.emit(ctx, deployCategory(r.reason), notify.ActFailed, data)
}

// data is the event data of this run.
func (r *appRun) data(deployID string) notify.Data {
	d := r.c.revData(r.rs, r.rev, r.reason)
	d.App, d.Kind, d.DeployID, d.PreviousRevision = r.app.Name, r.app.Kind, deployID, r.rec.st.AppliedRevision
	return d
}

// planData is the event data of this run's plan.
func (r *appRun) planData() notify.Data {
	d := r.data(r.req.DeployID)
	d.Summary, d.Changes, d.PlanID = r.plan.Summary, r.plan.Changes, r.plan.ID
	return d
}

// deployCategory is the event category of a deploy for reason.
func deployCategory(reason string) string {
	if state.IsRollback(reason) {
		return notify.CatRollback
	}
	return notify.CatDeploy
}

// observer turns an applier's progress into logs and rollback events.
type observer struct {
	rec   *recorder
	ctx   context.Context
	base  notify.Data
	scrub func(string) string
}

func (o *observer) Step(msg string) { o.rec.log.Info("deploy step", "step", msg) }

func (o *observer) RollbackStarted(reason string) {
	d := o.base
	d.Reason, d.Error = state.ReasonAutomatic, o.scrub(reason)
	o.rec.log.Warn("rolling back", "reason", reason)
	o.rec.emit(o.ctx, notify.CatRollback, notify.ActStarted, d)
}

func (o *observer) RollbackDone(err error) {
	d := o.base
	d.Reason = state.ReasonAutomatic
	action := notify.ActSucceeded
	if err != nil {
		action, d.Error = notify.ActFailed, o.scrub(err.Error())
		o.rec.log.Error("rollback failed", "error", d.Error)
	} else {
		o.rec.log.Info("rolled back")
	}
	o.rec.emit(o.ctx, notify.CatRollback, action, d)
}
