package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	rs.pass = passRecord{rev: rev.SHA, at: c.opt.Now()}
	c.refreshMarks(ctx, rs)
	mem := c.beginPass(ctx, rs)
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
					c.markBlocked(ctx, rs, rev, app, dep, mem)
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
			res = c.reconcileApp(ctx, rs, d, rev, app, mem)
		}()
	}
	wg.Wait()
	c.endPass(ctx, mem, d, ctx.Err() == nil)
	if ctx.Err() != nil {
		return
	}
	var unsettled []string
	for app, out := range results {
		if out != outcomeReady {
			unsettled = append(unsettled, app)
		}
	}
	slices.Sort(unsettled)
	c.settle(ctx, rs, state.Reconciled{Revision: rev.SHA, Unsettled: unsettled})
	rs.pass.settled = len(unsettled) == 0
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
