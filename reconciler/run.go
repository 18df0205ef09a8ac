package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// appRun is one reconcile of one app at one revision of its repository:
// the inputs, what the steps decided so far, and the recorder that is the
// run's only writer.
type appRun struct {
	c    *Controller
	rs   *repoState
	head *sources.Revision // the branch head being reconciled
	app  *manifest.App     // the app's block at rev
	d    *manifest.Desired // the desired state at rev
	rev  *sources.Revision // what is applied: head, or the pinned revision
	rec  *recorder
	log  *slog.Logger

	recall         bool   // the state may be the pass's remembered one (see passMemory)
	reason, caller string // why the run deploys, and who asked
	forced         bool   // an action asked for this run: plan whatever changed
	pinned         bool   // rev is the app's pinned revision, not head

	spec appliers.Spec
	hash string // specHash of spec ("" when it did not decode)
	derr error  // why spec did not decode

	plan    *appliers.Plan
	req     appliers.Request
	planRec *state.PlanRecord
	start   time.Time

	release func()    // leaves the pass's lane (passMemory.lane) while the run decides from memory
	slot    *workSlot // the pass's work slot it takes before reading the store (nil: none to take)
}

// verdict is what a step decided: go on to the next step, or end the run
// with an outcome for the app's dependents.
type verdict struct {
	done  bool
	out   outcome
	again bool // run the steps again, from the stored state
}

var (
	next    = verdict{}
	ready   = verdict{done: true, out: outcomeReady}
	blocked = verdict{done: true, out: outcomeBlocked}
	again   = verdict{done: true, again: true}
)

// step is one stage of a run.
type step struct {
	name string
	run  func(r *appRun, ctx context.Context) verdict
}

// steps are the stages of every run, in order. Each reads what the
// earlier ones decided; the first that ends the run decides its outcome.
var steps = []step{
	{"load state", (*appRun).loadState},
	{"take over interrupted deploy", (*appRun).takeOverInterrupted},
	{"consume forced action", (*appRun).consumeForced},
	{"suspended", (*appRun).suspended},
	{"resolve pin", (*appRun).resolvePin},
	{"decode", (*appRun).decodeSpec},
	{"skip unchanged", (*appRun).skipUnchanged},
	{"fresh state", (*appRun).freshState},
	{"retry gate", (*appRun).retryGate},
	{"approval gate", (*appRun).approvalGate},
	{"decode failed", (*appRun).decodeFailed},
	{"approved plan", (*appRun).approvedPlan},
	{"plan", (*appRun).makePlan},
	{"await approval", (*appRun).awaitApproval},
	{"apply", (*appRun).apply},
}

// appTurn is one app's run in a pass.
type appTurn struct {
	rs    *repoState
	d     *manifest.Desired
	rev   *sources.Revision
	app   *manifest.App
	mem   *passMemory
	slots chan struct{} // the pass's work slots (MaxParallel)
	// changed: the app is new or changed since the last pass, so a run
	// deciding from the remembered state would only find it has work.
	changed bool
	// decided: a run from the remembered state found the app has work
	// (Controller.decide); what is left is the run from the stored state.
	decided bool
}

// decide runs the app's steps from its remembered state, which the pass
// trusts and which is quiet (passMemory.quiet): the run reads and writes
// nothing, and either ends with nothing to do or finds work (more).
func (c *Controller) decide(ctx context.Context, t appTurn) (out outcome, more bool) {
	return c.newRun(t, true, nil).runSteps(ctx)
}

// newRun makes a run of the app's steps; recall: it may decide from the
// remembered state. It takes slot before reading the store.
func (c *Controller) newRun(t appTurn, recall bool, slot *workSlot) *appRun {
	log := lazyLogger(c.log, slog.String("repo", t.rs.cfg.Name), slog.String("app", t.app.Name), slog.String("revision", t.rev.SHA))
	r := &appRun{c: c, rs: t.rs, head: t.rev, app: t.app, d: t.d, rev: t.rev, log: log, recall: recall,
		rec: c.recorderLogging(t.rs.cfg.Name, t.app.Name, log), slot: slot}
	r.rec.mem = t.mem
	return r
}

// reconcileApp runs the steps for the app at the repo's current revision.
// An app nothing changed decides first from its state as the pass
// remembers it, when the pass trusts it, in the pass's lane and without a
// work slot (it only computes); a run that does not end there with
// nothing to do takes a slot and runs again from the stored state. A
// changed app, or one the pass cannot decide from memory, takes a slot
// and reads its stored state at once.
func (c *Controller) reconcileApp(ctx context.Context, t appTurn) outcome {
	slot := &workSlot{slots: t.slots}
	defer slot.release()
	if !t.changed && !t.decided {
		first := c.newRun(t, true, slot)
		if first.release = t.mem.lane(); first.release == nil && !slot.take(ctx) {
			return outcomeBlocked
		}
		out, more := first.runSteps(ctx)
		first.leaveLane()
		if !more {
			return out
		}
	}
	if !slot.take(ctx) {
		return outcomeBlocked
	}
	out, _ := c.newRun(t, false, slot).runSteps(ctx)
	return out
}

// workSlot is a run's hold on one of the pass's work slots.
type workSlot struct {
	slots chan struct{}
	held  bool
}

// take waits for a slot unless one is held (or there are none to take,
// nil w); false when ctx ended first.
func (w *workSlot) take(ctx context.Context) bool {
	if w == nil || w.held {
		return true
	}
	select {
	case w.slots <- struct{}{}:
		w.held = true
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *workSlot) release() {
	if w != nil && w.held {
		<-w.slots
		w.held = false
	}
}

// runSteps runs the steps in order until one ends the run; more asks for
// the run to be made again from the stored state (see freshState).
func (r *appRun) runSteps(ctx context.Context) (out outcome, more bool) {
	defer func() {
		if p := recover(); p != nil {
			out, more = outcomeBlocked, false
			r.panicked(ctx, p)
		}
	}()
	for _, s := range steps {
		if v := s.run(r, ctx); v.done {
			return v.out, v.again
		}
	}
	return outcomeReady, false
}

// panicked records a panic in the run as the app's failure (stalled: the
// same inputs would fail the same way), never a dead process.
func (r *appRun) panicked(ctx context.Context, p any) {
	r.log.Error("internal error reconciling the app", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	defer func() {
		if p2 := recover(); p2 != nil {
			r.log.Error("internal error recording an internal error", "panic", fmt.Sprint(p2))
		}
	}()
	r.fail(ctx, appliers.Stalled(fmt.Errorf("internal error: %v", p)))
}

// leaveLane releases the pass's lane, if the run holds it.
func (r *appRun) leaveLane() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// syncedStatus is the status of an app whose live state matches what the
// run applies: pinned apps show as pinned.
func (r *appRun) syncedStatus() string {
	if r.pinned {
		return state.StatusPinned
	}
	return state.StatusSynced
}

func (r *appRun) loadState(ctx context.Context) verdict {
	if r.recall && r.rec.recall() && quiet(r.rec.st, r.app.Kind) {
		return next
	}
	r.leaveLane() // a run that reads the store runs in parallel with the others
	if !r.slot.take(ctx) {
		return blocked
	}
	if err := r.rec.load(ctx); err != nil {
		r.log.Error("reading app state", "error", err)
		return blocked
	}
	return next
}

// takeOverInterrupted handles a deploy found in flight: running on its
// replica (wait), or interrupted by a crash (record it, plan again).
func (r *appRun) takeOverInterrupted(ctx context.Context) verdict {
	if r.rec.st.InFlight == nil {
		return next
	}
	if !r.c.takeOverInterrupted(ctx, r.rec) {
		return blocked
	}
	return next
}

func (r *appRun) consumeForced(ctx context.Context) verdict {
	r.reason, r.caller, r.forced = r.c.takeForced(ctx, r.rec)
	if r.rec.st.PinnedRevision != "" && r.reason == state.ReasonRollback {
		r.caller = r.rec.st.PinnedBy
	}
	return next
}

func (r *appRun) suspended(ctx context.Context) verdict {
	st := r.rec.st
	if !st.Suspended {
		return next
	}
	if st.Status != state.StatusSuspended || st.DesiredRevision != r.head.SHA || st.Kind != r.app.Kind {
		_ = r.rec.save(ctx, func(s *state.AppState) {
			s.Kind, s.DesiredRevision, s.Status = r.app.Kind, r.head.SHA, state.StatusSuspended
		})
	}
	return ready
}

func (r *appRun) decodeSpec(ctx context.Context) verdict {
	if !r.pinned && r.reason == "" && len(r.rev.Reverts) > 0 {
		r.reason = state.ReasonRevert
	}
	r.spec, r.derr = r.c.decode(ctx, r.rs, r.d, r.rev, r.app)
	if r.derr == nil {
		r.hash = r.rs.specHashOf(r.app, r.spec)
	}
	return next
}

// skipUnchanged ends the run when nothing the app depends on changed
// since it was last applied.
func (r *appRun) skipUnchanged(ctx context.Context) verdict {
	st := r.rec.st
	if r.forced || r.derr != nil || st.AppliedRevision == "" || r.hash != st.SpecHash {
		return next
	}
	if r.pinned {
		if st.AppliedRevision != r.rev.SHA || st.Status == state.StatusFailed {
			return next
		}
		if st.Status != state.StatusPinned || st.DesiredRevision != r.head.SHA {
			_ = r.rec.save(ctx, func(s *state.AppState) { s.Status, s.DesiredRevision = state.StatusPinned, r.head.SHA })
		}
		return ready
	}
	if r.c.inputsChanged(ctx, r.rs, st.AppliedRevision, r.rev.SHA, r.spec) {
		return next
	}
	if !settledAt(st, r.app.Kind) {
		_ = r.rec.save(ctx, func(s *state.AppState) {
			s.Kind, s.DesiredRevision, s.AppliedRevision = r.app.Kind, r.head.SHA, r.rev.SHA
			if s.Status != state.StatusDrifted {
				s.Status = state.StatusSynced
			}
			clearFailure(s)
		})
	}
	r.rec.count("noop")
	return ready
}

// freshState makes a run that goes on past skipUnchanged decide from the
// stored state: a remembered one only ever ends a run with nothing to do.
func (r *appRun) freshState(context.Context) verdict {
	if r.rec.remembered {
		return again
	}
	return next
}

// settledAt reports whether st needs no write when nothing the app depends
// on changed: it is synced (or drifted) with nothing pending. Its revisions
// are not moved to the new head app by app: the pass records that once for
// the repository (Controller.settle, state.RepoState.Current).
func settledAt(st state.AppState, kind string) bool {
	return (st.Status == state.StatusSynced || st.Status == state.StatusDrifted) && st.Kind == kind &&
		st.DesiredRevision == st.AppliedRevision && st.LastError == "" && st.InFlight == nil &&
		!st.Suspended && st.PinnedRevision == ""
}

// retryGate retries a failure on these very inputs only when its backoff
// expired, and never when it was stalled (a new revision must come).
func (r *appRun) retryGate(context.Context) verdict {
	st := r.rec.st
	if r.forced || st.Status != state.StatusFailed || st.FailedRevision != r.rev.SHA || st.FailedSpecHash != r.hash {
		return next
	}
	if st.RetryAt.IsZero() || r.c.opt.Now().Before(st.RetryAt) {
		return blocked
	}
	if !r.pinned {
		r.reason = state.ReasonRetry
	}
	return next
}

// approvalGate waits while the plan awaiting approval is still the plan
// for this revision.
func (r *appRun) approvalGate(ctx context.Context) verdict {
	st := r.rec.st
	if r.pinned {
		r.reason = state.ReasonRollback
		return next
	}
	if !r.forced && st.Status == state.StatusAwaitingApproval && st.LastPlan != nil && r.c.hasPending(r.rec.repo, r.app.Name, r.hash) &&
		(st.LastPlan.Revision == r.rev.SHA || !r.c.inputsChanged(ctx, r.rs, st.LastPlan.Revision, r.rev.SHA, r.spec)) {
		return blocked
	}
	if r.reason == "" {
		r.reason = state.ReasonCommit
	}
	return next
}

func (r *appRun) decodeFailed(ctx context.Context) verdict {
	if r.derr == nil {
		return next
	}
	r.fail(ctx, r.derr)
	return blocked
}

// approvedPlan applies exactly the plan that was approved when no commit
// since touched the app; otherwise it plans again, and the new plan is
// applied only if it is the plan that was approved (same id), else it
// awaits approval anew.
func (r *appRun) approvedPlan(ctx context.Context) verdict {
	if r.reason != state.ReasonApproved {
		return next
	}
	p := r.c.takePending(r.rec.repo, r.app.Name)
	if p != nil && p.specHash == r.hash && (r.rec.approved == "" || p.plan.ID == r.rec.approved) &&
		(p.rev.SHA == r.rev.SHA || !r.c.inputsChanged(ctx, r.rs, p.rev.SHA, r.rev.SHA, r.spec)) {
		r.plan, r.req, r.start = p.plan, p.req, r.c.opt.Now()
		r.planRec = &state.PlanRecord{Revision: r.rev.SHA, ID: p.plan.ID, Changed: true, Summary: p.plan.Summary,
			Changes: p.plan.Changes, At: r.c.opt.Now().UTC()}
		r.log = r.log.With("deploy_id", p.req.DeployID)
		return next
	}
	r.log.Warn("the approved plan is not in memory or no longer current; planning again", "approved_plan", r.rec.approved)
	return next
}
