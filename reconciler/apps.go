package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/manifest"
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
// dependencies, at most MaxParallel at once. A pass that ran every app to
// its end is recorded once for the repository (see settle).
func (c *Controller) reconcileApps(ctx context.Context, rs *repoState) {
	rev, d := rs.current()
	last := rs.pass.desired
	rs.pass = passRecord{rev: rev.SHA, at: c.opt.Now(), desired: d}
	if !rs.marksFresh {
		c.refreshMarks(ctx, rs)
	}
	rs.marksFresh = false
	mem := c.beginPass(ctx, rs)
	outs := newOutcomes(d)
	slots := make(chan struct{}, c.opt.MaxParallel)
	var wg sync.WaitGroup
	yielded := false
	for _, name := range changedFirst(d, last) {
		t := appTurn{rs: rs, d: d, rev: rev, app: d.Apps[name], mem: mem, slots: slots,
			changed: changedSince(last, d, name)}
		if !t.changed && !yielded {
			runtime.Gosched() // the changed apps' runs start (and send their reads) before the others are decided
			yielded = true
		}
		if !t.changed && t.mem.quiet(name, t.app.Kind) && outs.ready(t.app.DependsOn) {
			// Decided here, from memory, without a goroutine: in a pass
			// after a commit that changed one app of 1,000, the 999
			// others end at once and leave the processors to it.
			out, more := c.decide(ctx, t)
			if !more {
				outs.set(name, out)
				continue
			}
			t.decided = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := outcomeReady
			defer func() { outs.set(name, res) }()
			for _, dep := range t.app.DependsOn {
				if outs.wait(dep) != outcomeReady {
					res = outcomeBlocked
					c.markBlocked(ctx, rs, rev, t.app, dep, mem)
					return
				}
			}
			res = c.reconcileApp(ctx, t)
		}()
	}
	wg.Wait()
	c.endPass(ctx, mem, d, ctx.Err() == nil)
	if ctx.Err() != nil {
		return
	}
	unsettled := outs.unsettled()
	c.settle(ctx, rs, state.Reconciled{Revision: rev.SHA, Unsettled: unsettled})
	rs.pass.settled = len(unsettled) == 0
}

// outcomes are the outcomes of a pass's apps, for their dependents.
type outcomes struct {
	mu      sync.Mutex
	done    map[string]chan struct{} // closed when the app's outcome is set
	results map[string]outcome
}

func newOutcomes(d *manifest.Desired) *outcomes {
	o := &outcomes{done: make(map[string]chan struct{}, len(d.Apps)), results: make(map[string]outcome, len(d.Apps))}
	for name := range d.Apps {
		o.done[name] = make(chan struct{})
	}
	return o
}

// set records app's outcome (once).
func (o *outcomes) set(app string, out outcome) {
	o.mu.Lock()
	o.results[app] = out
	o.mu.Unlock()
	close(o.done[app])
}

// wait returns app's outcome once it is set.
func (o *outcomes) wait(app string) outcome {
	<-o.done[app]
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.results[app]
}

// ready reports whether every one of apps already ended ready.
func (o *outcomes) ready(apps []string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, app := range apps {
		if out, ok := o.results[app]; !ok || out != outcomeReady {
			return false
		}
	}
	return true
}

// unsettled lists, sorted, the apps that did not end ready.
func (o *outcomes) unsettled() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var apps []string
	for app, out := range o.results {
		if out != outcomeReady {
			apps = append(apps, app)
		}
	}
	slices.Sort(apps)
	return apps
}

// changedFirst orders d's apps for a pass: those new or changed since the
// last pass's desired state (last; every app when nil) first, then the
// others, each group in d.Order. The changed apps are the ones likely to
// have work, so their runs start before the (many) others queue up.
func changedFirst(d, last *manifest.Desired) []string {
	order := make([]string, 0, len(d.Order))
	for _, changed := range []bool{true, false} {
		for _, name := range d.Order {
			if changedSince(last, d, name) == changed {
				order = append(order, name)
			}
		}
	}
	return order
}

// changedSince reports whether app name of d is new or changed since last
// (every app when last is nil): Reload reuses the *App of an app a commit
// did not touch.
func changedSince(last, d *manifest.Desired, name string) bool {
	return last == nil || last.Apps[name] != d.Apps[name]
}

// refreshMarks reads what is remembered of the repository: another
// replica may have reconciled it since this one last did.
func (c *Controller) refreshMarks(ctx context.Context, rs *repoState) {
	m, err := c.opt.Store.Repo(ctx, rs.cfg.Name)
	if err != nil {
		c.log.Warn("reading what is remembered of the repository", "repo", rs.cfg.Name, "error", err)
		rs.marks.Store(nil) // infer nothing from what may be stale
		return
	}
	rs.marks.Store(&m)
}

// settle records, with one write for the whole repository, that a pass
// ran every app: the apps it left synced without writing their state
// (nothing they depend on changed) are synced at its revision. It writes
// nothing when the record is unchanged (a pass on the same revision, same
// result).
func (c *Controller) settle(ctx context.Context, rs *repoState, last state.Reconciled) {
	cur := rs.marks.Load()
	if cur == nil {
		return
	}
	if cur.Last.Revision == last.Revision && len(cur.Last.Since) == 0 && slices.Equal(cur.Last.Unsettled, last.Unsettled) {
		return
	}
	m := *cur
	m.Last = last
	if err := c.opt.Store.PutRepo(ctx, m); err != nil {
		c.log.Warn("remembering the reconciled revision", "repo", rs.cfg.Name, "revision", last.Revision, "error", err)
		return
	}
	rs.marks.Store(&m)
}

func (c *Controller) markBlocked(ctx context.Context, rs *repoState, rev *sources.Revision, app *manifest.App, dep string, mem *passMemory) {
	msg := fmt.Sprintf("waiting for dependency %q", dep)
	rec := c.recorderFor(rs.cfg.Name, app.Name)
	rec.mem = mem
	if err := rec.load(ctx); err != nil {
		return
	}
	cur := rec.st
	if cur.Kind == app.Kind && cur.DesiredRevision == rev.SHA &&
		(cur.AppliedRevision == rev.SHA || cur.Status == state.StatusFailed || cur.Suspended || cur.LastError == msg) {
		return // nothing to record: do not rewrite the state on every tick
	}
	_ = rec.save(ctx, func(st *state.AppState) {
		st.Kind = app.Kind
		st.DesiredRevision = rev.SHA
		if st.AppliedRevision != rev.SHA && st.Status != state.StatusFailed && !st.Suspended {
			st.Status = state.StatusOutOfSync
			st.LastError = msg
		}
	})
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
	c.maskSensitive(o)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outputs[repo+"/"+app] = o
}

// maskSensitive feeds the values of sensitive outputs to the redactor, so
// that they stay masked wherever they flow: into another app's spec, its
// plan summary, errors, events and Slack.
func (c *Controller) maskSensitive(o map[string]appliers.Output) {
	if c.opt.AddSecrets == nil {
		return
	}
	for _, out := range o {
		if !out.Sensitive || len(out.Value) == 0 {
			continue
		}
		var v any
		if json.Unmarshal(out.Value, &v) != nil {
			continue
		}
		c.opt.AddSecrets(leafStrings(v)...)
	}
}

// leafStrings lists the strings (and numbers, as text) in a JSON value.
func leafStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, leafStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, leafStrings(e)...)
		}
		return out
	}
	return nil
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
	paths, err := rs.changedPaths(ctx, from, to)
	if err != nil {
		c.log.Warn("cannot tell what changed; planning", "repo", rs.cfg.Name, "from", from, "to", to, "error", err)
		return true
	}
	return touches(paths, spec.Inputs())
}

// changedPaths is Source.ChangedPaths, asked once per pair of revisions
// while the pair is recent: a pass asks it for every app, nearly always
// for the same pair (the last revision reconciled and the head).
func (rs *repoState) changedPaths(ctx context.Context, from, to string) ([]string, error) {
	key := [2]string{from, to}
	rs.fmu.Lock()
	paths, ok := rs.diffs[key]
	rs.fmu.Unlock()
	if ok {
		return paths, nil
	}
	paths, err := rs.cfg.Source.ChangedPaths(ctx, from, to)
	if err != nil {
		return nil, err
	}
	rs.fmu.Lock()
	if rs.diffs == nil || len(rs.diffs) >= 64 {
		rs.diffs = map[[2]string][]string{}
	}
	rs.diffs[key] = paths
	rs.fmu.Unlock()
	return paths, nil
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

// specHashOf is specHash of app's spec. The spec of an app without
// references is its load-time one, fixed with the *manifest.App: its hash
// is remembered, and an app the next revision did not decode again
// (manifest.Loader.Reload reuses the *App) is not hashed again either.
func (rs *repoState) specHashOf(app *manifest.App, spec appliers.Spec) string {
	if len(app.Refs) > 0 || app.Spec == nil {
		return specHash(app.Kind, spec)
	}
	rs.fmu.Lock()
	h, ok := rs.hashes[app]
	rs.fmu.Unlock()
	if ok {
		return h
	}
	h = specHash(app.Kind, app.Spec)
	rs.fmu.Lock()
	if rs.hashes == nil {
		rs.hashes = map[*manifest.App]string{}
	}
	rs.hashes[app] = h
	rs.fmu.Unlock()
	return h
}

// keepHashes forgets the remembered spec hashes of apps not in d.
func (rs *repoState) keepHashes(d *manifest.Desired) {
	rs.fmu.Lock()
	defer rs.fmu.Unlock()
	for app := range rs.hashes {
		if d.Apps[app.Name] != app {
			delete(rs.hashes, app)
		}
	}
}

func clearFailure(s *state.AppState) {
	s.LastError, s.FailedRevision, s.FailedSpecHash, s.Attempts, s.RetryAt = "", "", "", 0, time.Time{}
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
