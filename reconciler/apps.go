package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// outcome of one app's reconcile, for its dependents.
type outcome int

const (
	outcomeReady   outcome = iota // live matches the desired state: dependents may go on
	outcomeBlocked                // failed, waiting for approval, or blocked itself
)

type pendingPlan struct {
	plan     *appliers.Plan
	req      appliers.Request
	specHash string
	rev      *sources.Revision
}

// reconcileApps runs every app of the desired state, each after its
// dependencies, at most MaxParallel at once.
func (c *Controller) reconcileApps(ctx context.Context, rs *repoState) {
	d, rev := rs.desired, rs.rev
	done := make(map[string]chan struct{}, len(d.Apps))
	results := make(map[string]outcome, len(d.Apps))
	var mu sync.Mutex
	for name := range d.Apps {
		done[name] = make(chan struct{})
	}
	sem := make(chan struct{}, c.opt.MaxParallel)
	var wg sync.WaitGroup
	for _, name := range d.Order {
		app := d.Apps[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[name])
			res := outcomeReady
			defer func() { mu.Lock(); results[name] = res; mu.Unlock() }()
			for _, dep := range app.DependsOn {
				<-done[dep]
				mu.Lock()
				r := results[dep]
				mu.Unlock()
				if r != outcomeReady {
					res = outcomeBlocked
					c.markBlocked(ctx, rs, app, dep)
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				res = outcomeBlocked
				return
			}
			defer func() { <-sem }()
			res = c.reconcileApp(ctx, rs, d, rev, app)
		}()
	}
	wg.Wait()
}

func (c *Controller) markBlocked(ctx context.Context, rs *repoState, app *manifest.App, dep string) {
	msg := fmt.Sprintf("waiting for dependency %q", dep)
	cur, err := c.opt.Store.Get(ctx, rs.cfg.Name, app.Name)
	if err == nil && cur.Kind == app.Kind && cur.DesiredRevision == rs.rev.SHA &&
		(cur.AppliedRevision == rs.rev.SHA || cur.Status == state.StatusFailed || cur.Suspended || cur.LastError == msg) {
		return // nothing to record: do not rewrite the state on every tick
	}
	st, err := c.opt.Store.Update(ctx, rs.cfg.Name, app.Name, func(st *state.AppState) error {
		st.Kind = app.Kind
		st.DesiredRevision = rs.rev.SHA
		if st.AppliedRevision != rs.rev.SHA && st.Status != state.StatusFailed && !st.Suspended {
			st.Status = state.StatusOutOfSync
			st.LastError = msg
		}
		st.UpdatedAt = c.opt.Now().UTC()
		return nil
	})
	if err == nil {
		c.setStatus(st.Repo, st.App, st.Status)
	}
}

// reconcileApp decides whether app must be planned at rev and, if so,
// plans and applies it.
func (c *Controller) reconcileApp(ctx context.Context, rs *repoState, d *manifest.Desired, rev *sources.Revision, app *manifest.App) outcome {
	repo := rs.cfg.Name
	log := c.log.With("repo", repo, "app", app.Name, "revision", rev.SHA)
	st, err := c.opt.Store.Get(ctx, repo, app.Name)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		log.Error("reading app state", "error", err)
		return outcomeBlocked
	}
	st.Repo, st.App = repo, app.Name
	if st.InFlight != nil && !c.takeOverInterrupted(ctx, &st) {
		return outcomeBlocked // still being applied by its replica
	}
	reason, caller, forced := c.takeForced(ctx, &st)
	if st.PinnedRevision != "" && reason == state.ReasonRollback {
		caller = st.PinnedBy
	}
	ctx = withCaller(ctx, caller)
	if st.Suspended {
		if st.Status != state.StatusSuspended || st.DesiredRevision != rev.SHA || st.Kind != app.Kind {
			c.save(ctx, st, func(s *state.AppState) {
				s.Kind = app.Kind
				s.DesiredRevision = rev.SHA
				s.Status = state.StatusSuspended
			})
		}
		return outcomeReady
	}
	if st.PinnedRevision != "" {
		if !c.pinReleased(ctx, rs, st, rev.SHA) {
			return c.reconcilePinned(ctx, rs, app, st, forced)
		}
		st, err = c.unpin(ctx, rs, repo, app.Name, "a commit newer than the quarantined head landed")
		if err != nil {
			return outcomeBlocked
		}
	}
	if reason == "" && len(rev.Reverts) > 0 {
		reason = state.ReasonRevert
	}

	spec, derr := c.decode(ctx, rs, d, rev, app)
	var hash string
	if derr == nil {
		hash = specHash(app.Kind, spec)
	}
	needs := forced || st.AppliedRevision == "" || derr != nil || hash != st.SpecHash ||
		c.inputsChanged(ctx, rs, st.AppliedRevision, rev.SHA, spec)
	if !needs {
		if st.AppliedRevision != rev.SHA || st.Status != state.StatusSynced && st.Status != state.StatusDrifted || st.LastError != "" {
			c.save(ctx, st, func(s *state.AppState) {
				s.Kind, s.DesiredRevision, s.AppliedRevision = app.Kind, rev.SHA, rev.SHA
				if s.Status != state.StatusDrifted {
					s.Status = state.StatusSynced
				}
				clearFailure(s)
			})
		}
		c.count(repo, app.Name, "noop")
		return outcomeReady
	}
	// A failure on these very inputs is retried only when its backoff
	// expired, and never when it was stalled (a new revision must come).
	if !forced && st.FailedRevision == rev.SHA && st.FailedSpecHash == hash && st.Status == state.StatusFailed {
		if st.RetryAt.IsZero() || c.opt.Now().Before(st.RetryAt) {
			return outcomeBlocked
		}
		reason = state.ReasonRetry
	}
	if !forced && st.Status == state.StatusAwaitingApproval && st.LastPlan != nil && c.hasPending(repo, app.Name, hash) &&
		(st.LastPlan.Revision == rev.SHA || !c.inputsChanged(ctx, rs, st.LastPlan.Revision, rev.SHA, spec)) {
		return outcomeBlocked // the pending plan is still the plan for this revision
	}
	if reason == "" {
		reason = state.ReasonCommit
	}
	if derr != nil {
		c.fail(ctx, rs, rev, app, st, hash, "", derr, time.Time{}, reason)
		return outcomeBlocked
	}
	if reason == state.ReasonApproved {
		if p := c.takePending(repo, app.Name); p != nil && p.specHash == hash && (p.rev.SHA == rev.SHA || !c.inputsChanged(ctx, rs, p.rev.SHA, rev.SHA, spec)) {
			// Apply exactly the plan that was approved: no commit since it
			// touched the app, so it is still the plan for this revision.
			rec := &state.PlanRecord{Revision: rev.SHA, ID: p.plan.ID, Changed: true, Summary: p.plan.Summary, Changes: p.plan.Changes, At: c.opt.Now().UTC()}
			base := c.appData(rs, rev, app, st, p.req.DeployID, reason)
			return c.apply(ctx, rs, rev, app, st, p.req, p.plan, rec, hash, reason, base, c.opt.Now(), log.With("deploy_id", p.req.DeployID))
		}
		log.Warn("the approved plan is no longer current; planning again")
		reason = state.ReasonCommit
	}
	return c.deploy(ctx, rs, rev, app, st, spec, hash, reason, log)
}

// deploy plans app and applies the plan when it has changes.
func (c *Controller) deploy(ctx context.Context, rs *repoState, rev *sources.Revision, app *manifest.App, st state.AppState,
	spec appliers.Spec, hash, reason string, log *slog.Logger) outcome {
	repo := rs.cfg.Name
	applier := c.opt.Loader.Applier(app.Kind)
	deployID := notify.NewID()
	log = log.With("deploy_id", deployID)
	req := appliers.Request{Repo: repo, App: app.Name, Revision: rev.SHA, Spec: spec, Tree: rev.Tree, DeployID: deployID, Log: log}
	start := c.opt.Now()
	if m := c.metrics(); m != nil {
		m.StacksPlanned.WithLabelValues(repo, app.Kind).Inc()
	}
	req.Observer = appliers.NopObserver{}
	plan, err := applier.Plan(ctx, req)
	if err != nil {
		c.fail(ctx, rs, rev, app, st, hash, "", fmt.Errorf("plan: %w", err), time.Time{}, reason)
		return outcomeBlocked
	}
	rec := &state.PlanRecord{Revision: rev.SHA, ID: plan.ID, Changed: plan.Changed, Summary: plan.Summary, Changes: plan.Changes, At: c.opt.Now().UTC()}
	if !plan.Changed {
		log.Info("no changes", "summary", plan.Summary)
		c.save(ctx, st, func(s *state.AppState) {
			s.Kind, s.DesiredRevision, s.AppliedRevision, s.SpecHash = app.Kind, rev.SHA, rev.SHA, hash
			s.Status, s.LastPlan = state.StatusSynced, rec
			clearFailure(s)
		})
		c.count(repo, app.Name, "noop")
		if reason == state.ReasonRollback {
			d := c.appData(rs, rev, app, st, deployID, reason)
			d.Summary = "no changes: live state already matches " + rev.Short()
			c.opt.Events.Emit(ctx, notify.CatRollback, notify.ActSucceeded, d)
		}
		return outcomeReady
	}
	base := c.appData(rs, rev, app, st, deployID, reason)
	ready := base
	ready.Summary, ready.Changes, ready.PlanID = plan.Summary, plan.Changes, plan.ID
	c.opt.Events.Emit(ctx, notify.CatPlan, notify.ActReady, ready)
	if ar, ok := spec.(appliers.ApprovalRequirer); ok && ar.ApprovalRequired() && reason != state.ReasonRollback {
		c.setPending(repo, app.Name, &pendingPlan{plan: plan, req: req, specHash: hash, rev: rev})
		log.Info("plan awaits approval", "summary", plan.Summary, "plan_id", plan.ID)
		c.save(ctx, st, func(s *state.AppState) {
			s.Kind, s.DesiredRevision, s.Status, s.LastPlan = app.Kind, rev.SHA, state.StatusAwaitingApproval, rec
			s.LastError = ""
		})
		c.opt.Events.Emit(ctx, notify.CatPlan, notify.ActAwaitingApproval, ready)
		c.count(repo, app.Name, "awaiting_approval")
		return outcomeBlocked
	}
	return c.apply(ctx, rs, rev, app, st, req, plan, rec, hash, reason, base, start, log)
}

// apply carries out plan and records the outcome.
func (c *Controller) apply(ctx context.Context, rs *repoState, rev *sources.Revision, app *manifest.App, st state.AppState,
	req appliers.Request, plan *appliers.Plan, rec *state.PlanRecord, hash, reason string, base notify.Data, start time.Time, log *slog.Logger) outcome {
	repo := rs.cfg.Name
	dep := &state.DeployRecord{ID: req.DeployID, Revision: rev.SHA, Author: rev.Author, PR: rev.PR, Reason: reason,
		StartedAt: start.UTC(), Changes: plan.Changes, Replica: c.opt.Instance, Caller: callerOf(ctx)}
	lease, err := c.holdApp(ctx, repo, app.Name)
	if err != nil {
		log.Warn("not applying now", "error", err)
		return outcomeBlocked
	}
	defer c.release(lease)
	if lease != nil && !c.unchangedSince(ctx, st, log) {
		return outcomeBlocked
	}
	c.save(ctx, st, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.Status, s.LastPlan, s.InFlight = app.Kind, rev.SHA, state.StatusProgressing, rec, dep
	})
	started := base
	started.Summary, started.Changes, started.PlanID = plan.Summary, plan.Changes, plan.ID
	c.opt.Events.Emit(ctx, deployCategory(reason), notify.ActStarted, started)
	log.Info("applying", "summary", plan.Summary)
	req.Observer = &observer{c: c, ctx: ctx, base: started, log: log}
	res, err := c.opt.Loader.Applier(app.Kind).Apply(ctx, req, plan)
	if err != nil {
		c.fail(ctx, rs, rev, app, st, hash, req.DeployID, err, start, reason)
		return outcomeBlocked
	}
	dur := c.opt.Now().Sub(start)
	dep.FinishedAt, dep.Outcome = c.opt.Now().UTC(), "succeeded"
	if len(res.Changes) > 0 {
		dep.Changes = res.Changes
	}
	if res.Outputs != nil {
		c.setOutputs(repo, app.Name, res.Outputs)
	}
	c.save(ctx, st, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.AppliedRevision, s.SpecHash = app.Kind, rev.SHA, rev.SHA, hash
		s.Status, s.LastDeploy, s.InFlight = state.StatusSynced, dep, nil
		clearFailure(s)
	})
	c.history(ctx, repo, app.Name, *dep)
	done := started
	done.Changes, done.DurationMS = dep.Changes, dur.Milliseconds()
	c.opt.Events.Emit(ctx, deployCategory(reason), notify.ActSucceeded, done)
	log.Info("deploy succeeded", "duration_ms", dur.Milliseconds())
	c.count(repo, app.Name, "succeeded")
	if m := c.metrics(); m != nil {
		m.ReconcileDuration.WithLabelValues(repo, app.Kind).Observe(dur.Seconds())
	}
	return outcomeReady
}

// unchangedSince reports whether the app's stored state still shows no
// deploy other than what st, read when the deploy was decided, shows. A
// replica whose repo lease lapsed while it planned (a pause, a partition)
// finds here, under the app lease, that the replica which took over
// deployed meanwhile: it must not apply its stale plan (issue 6).
func (c *Controller) unchangedSince(ctx context.Context, st state.AppState, log *slog.Logger) bool {
	cur, err := c.opt.Store.Get(ctx, st.Repo, st.App)
	if errors.Is(err, state.ErrNotFound) {
		return st.LastDeploy == nil && st.InFlight == nil
	}
	if err != nil {
		log.Warn("not applying now: cannot read the app state", "error", err)
		return false
	}
	if cur.InFlight != nil || deployIDOf(cur.LastDeploy) != deployIDOf(st.LastDeploy) {
		log.Info("not applying: another replica deployed this app since it was planned; deciding again",
			"last_deploy", deployIDOf(cur.LastDeploy), "in_flight", cur.InFlight != nil)
		return false
	}
	return true
}

func deployIDOf(d *state.DeployRecord) string {
	if d == nil {
		return ""
	}
	return d.ID
}

// fail records a failed plan or apply. deployID is set when deploy.started
// was emitted; start is the deploy's start (zero for a plan failure).
func (c *Controller) fail(ctx context.Context, rs *repoState, rev *sources.Revision, app *manifest.App, st state.AppState,
	hash, deployID string, err error, start time.Time, reason string) {
	repo := rs.cfg.Name
	msg := c.opt.Scrub(err.Error())
	stalled := appliers.IsStalled(err)
	transient, after := appliers.IsTransient(err)
	repeat := st.Status == state.StatusFailed && st.FailedRevision == rev.SHA && st.FailedSpecHash == hash && st.LastError == msg
	attempts := st.Attempts + 1
	var retryAt time.Time
	if !stalled {
		retryAt = c.opt.Now().Add(max(backoff(time.Minute, attempts, 30*time.Minute), after))
	}
	log := c.log.With("repo", repo, "app", app.Name, "revision", rev.SHA)
	if deployID != "" {
		log = log.With("deploy_id", deployID)
	}
	log.Error("deploy failed", "error", msg, "stalled", stalled, "transient", transient, "attempt", attempts, "retry_at", retryAt)
	var dep *state.DeployRecord
	if deployID != "" {
		dep = &state.DeployRecord{ID: deployID, Revision: rev.SHA, Author: rev.Author, PR: rev.PR, Reason: reason,
			StartedAt: start.UTC(), FinishedAt: c.opt.Now().UTC(), Outcome: "failed", Error: msg, Replica: c.opt.Instance, Caller: callerOf(ctx)}
		if st.InFlight != nil {
			dep.StartedAt, dep.Changes = st.InFlight.StartedAt, st.InFlight.Changes
		}
	}
	c.save(ctx, st, func(s *state.AppState) {
		s.Kind, s.DesiredRevision, s.Status, s.LastError = app.Kind, rev.SHA, state.StatusFailed, msg
		s.FailedRevision, s.FailedSpecHash, s.Attempts, s.RetryAt = rev.SHA, hash, attempts, retryAt
		s.InFlight = nil
		if dep != nil {
			s.LastDeploy = dep
		}
	})
	rs.setRetry(app.Name, retryAt)
	if dep != nil {
		c.history(ctx, repo, app.Name, *dep)
	}
	c.count(repo, app.Name, "failed")
	// Announce a failure once: a deploy that started always gets its end,
	// a plan failure only when it differs from the last one reported.
	if deployID == "" && repeat {
		return
	}
	data := c.appData(rs, rev, app, st, deployID, reason)
	data.Error = msg
	if !start.IsZero() {
		data.DurationMS = c.opt.Now().Sub(start).Milliseconds()
	}
	c.opt.Events.Emit(ctx, deployCategory(reason), notify.ActFailed, data)
}

// decode resolves the app's references and decodes its spec.
func (c *Controller) decode(ctx context.Context, rs *repoState, d *manifest.Desired, rev *sources.Revision, app *manifest.App) (appliers.Spec, error) {
	outs := map[string]map[string]cty.Value{}
	for _, ref := range app.Refs {
		o, err := c.outputsOf(ctx, rs, d, rev, ref)
		if err != nil {
			return nil, appliers.Transient(fmt.Errorf("reading the outputs of %q: %w", ref, err), 0)
		}
		vals, err := manifest.OutputValues(o)
		if err != nil {
			return nil, fmt.Errorf("outputs of %q: %w", ref, err)
		}
		outs[ref] = vals
	}
	spec, diags := c.opt.Loader.Decode(rs.cfg.Name, rev.Tree, d, app, outs)
	if diags.HasErrors() {
		return nil, appliers.Stalled(errors.New(strings.Join(manifest.Format(diags), "; ")))
	}
	return spec, nil
}

// outputsOf returns the outputs of app ref, reading them from its applier
// when they are not cached (after a restart).
func (c *Controller) outputsOf(ctx context.Context, rs *repoState, d *manifest.Desired, rev *sources.Revision, ref string) (map[string]appliers.Output, error) {
	key := rs.cfg.Name + "/" + ref
	c.mu.Lock()
	o, ok := c.outputs[key]
	c.mu.Unlock()
	if ok {
		return o, nil
	}
	dep := d.Apps[ref]
	op, isOut := c.opt.Loader.Applier(dep.Kind).(appliers.Outputter)
	if !isOut {
		return nil, fmt.Errorf("%s apps have no outputs", dep.Kind)
	}
	o, err := op.Outputs(ctx, appliers.Request{Repo: rs.cfg.Name, App: ref, Revision: rev.SHA, Spec: dep.Spec, Tree: rev.Tree,
		Log: c.log.With("repo", rs.cfg.Name, "app", ref), Observer: appliers.NopObserver{}})
	if err != nil {
		return nil, err
	}
	c.setOutputs(rs.cfg.Name, ref, o)
	return o, nil
}

func (c *Controller) setOutputs(repo, app string, o map[string]appliers.Output) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outputs[repo+"/"+app] = o
}

// inputsChanged reports whether a path under one of spec's inputs differs
// between revisions from and to. When that cannot be told, it says yes.
func (c *Controller) inputsChanged(ctx context.Context, rs *repoState, from, to string, spec appliers.Spec) bool {
	if from == to || spec == nil {
		return false
	}
	if from == "" {
		return true
	}
	paths, err := rs.cfg.Source.ChangedPaths(ctx, from, to)
	if err != nil {
		c.log.Warn("cannot tell what changed; planning", "repo", rs.cfg.Name, "from", from, "to", to, "error", err)
		return true
	}
	return touches(paths, spec.Inputs())
}

// touches reports whether any path lies at or under any input.
func touches(paths, inputs []string) bool {
	for _, in := range inputs {
		in = strings.Trim(in, "/")
		if in == "" || in == "." {
			if len(paths) > 0 {
				return true
			}
			continue
		}
		for _, p := range paths {
			if p == in || strings.HasPrefix(p, in+"/") {
				return true
			}
		}
	}
	return false
}

// specHash identifies a decoded spec: a different hash means the manifest
// block, or an output it references, changed.
func specHash(kind string, spec appliers.Spec) string {
	b, err := json.Marshal(spec)
	if err != nil {
		return "unhashable:" + err.Error()
	}
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func clearFailure(s *state.AppState) {
	s.LastError, s.FailedRevision, s.FailedSpecHash, s.Attempts, s.RetryAt = "", "", "", 0, time.Time{}
}

func (c *Controller) save(ctx context.Context, st state.AppState, fn func(*state.AppState)) {
	saved, err := c.opt.Store.Update(ctx, st.Repo, st.App, func(s *state.AppState) error {
		fn(s)
		s.UpdatedAt = c.opt.Now().UTC()
		return nil
	})
	if err != nil {
		c.log.Error("saving app state", "repo", st.Repo, "app", st.App, "error", err)
		return
	}
	c.setStatus(saved.Repo, saved.App, saved.Status)
	if saved.Status != state.StatusFailed {
		if rs, ok := c.repos[saved.Repo]; ok {
			rs.setRetry(saved.App, time.Time{})
		}
	}
}

func (c *Controller) history(ctx context.Context, repo, app string, rec state.DeployRecord) {
	if err := c.opt.Store.AppendHistory(ctx, repo, app, rec); err != nil {
		c.log.Error("recording history", "repo", repo, "app", app, "deploy_id", rec.ID, "error", err)
	}
}

func (c *Controller) count(repo, app, result string) {
	if m := c.metrics(); m != nil {
		m.Reconciles.WithLabelValues(repo, app, result).Inc()
	}
}

type callerKey struct{}

// withCaller records who asked for a manual action, for history and events.
func withCaller(ctx context.Context, caller string) context.Context {
	if caller == "" {
		return ctx
	}
	return context.WithValue(ctx, callerKey{}, caller)
}

func callerOf(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

func (c *Controller) appData(rs *repoState, rev *sources.Revision, app *manifest.App, st state.AppState, deployID, reason string) notify.Data {
	d := c.revData(rs, rev, reason)
	d.App, d.Kind, d.DeployID, d.PreviousRevision = app.Name, app.Kind, deployID, st.AppliedRevision
	return d
}

func (c *Controller) setPending(repo, app string, p *pendingPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending[repo+"/"+app] = p
}

func (c *Controller) takePending(repo, app string) *pendingPlan {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[repo+"/"+app]
	delete(c.pending, repo+"/"+app)
	return p
}

func (c *Controller) hasPending(repo, app, hash string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pending[repo+"/"+app]
	return ok && p.specHash == hash
}

// observer turns an applier's progress into logs and rollback events.
type observer struct {
	c    *Controller
	ctx  context.Context
	base notify.Data
	log  *slog.Logger
}

func (o *observer) Step(msg string) { o.log.Info("deploy step", "step", msg) }

func (o *observer) RollbackStarted(reason string) {
	d := o.base
	d.Reason, d.Error = "automatic", o.c.opt.Scrub(reason)
	o.log.Warn("rolling back", "reason", reason)
	o.c.opt.Events.Emit(o.ctx, notify.CatRollback, notify.ActStarted, d)
}

func (o *observer) RollbackDone(err error) {
	d := o.base
	d.Reason = "automatic"
	action := notify.ActSucceeded
	if err != nil {
		action, d.Error = notify.ActFailed, o.c.opt.Scrub(err.Error())
		o.log.Error("rollback failed", "error", d.Error)
	} else {
		o.log.Info("rolled back")
	}
	o.c.opt.Events.Emit(o.ctx, notify.CatRollback, action, d)
}
