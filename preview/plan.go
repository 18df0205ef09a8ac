package preview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/sources"
)

// Source is what a preview reads of a watched repository
// (*sources.Repo).
type Source interface {
	Revision(ctx context.Context, rev string) (*sources.Revision, error)
	FetchRef(ctx context.Context, ref string) (*sources.Revision, error)
	ChangedPaths(ctx context.Context, from, to string) ([]string, error)
	MergeBase(ctx context.Context, a, b string) (string, error)
}

// Repo is a watched repository as a preview sees it.
type Repo struct {
	Name   string
	Branch string // the tracked branch: the base of every preview
	Path   string // manifest directory, repo-relative
	Source Source
}

// Planner plans previews. It is safe for concurrent use.
type Planner struct {
	Loader *manifest.Loader
	// WorkDir is where previews get their work directories:
	// WorkDir/<repo>/<app>/<n>, each held by one plan at a time and
	// wiped before and after it. One Planner per WorkDir.
	WorkDir  string
	Redactor *redact.Redactor
	Log      *slog.Logger

	slots slots

	baseMu  sync.Mutex
	baseKey string
	base    *manifest.Desired // the last base loaded (valid), by baseKey
}

// Input is one preview to make.
type Input struct {
	Repo Repo
	Ref  string // refs/pull/N/head, a branch or a SHA
	PR   int    // 0 when not a pull request
	// Sem bounds the plans run at once (nil: one at a time).
	Sem chan struct{}
}

// ErrInvalid is returned (wrapped) with a Result whose Diagnostics say why
// the manifests at the head are invalid.
var ErrInvalid = errors.New("the manifests are invalid")

// Preview makes the preview of in.Ref against the tracked branch. The
// Result is never nil: on error it says how far the preview got.
func (p *Planner) Preview(ctx context.Context, in Input) (*Result, error) {
	res := &Result{Repo: in.Repo.Name, Branch: in.Repo.Branch, PR: in.PR, Ref: in.Ref, Apps: []AppResult{}, Unchanged: []string{}}
	err := p.preview(ctx, in, res)
	if err != nil {
		res.Error = p.scrub(err.Error())
	}
	return res, err
}

func (p *Planner) preview(ctx context.Context, in Input, res *Result) error {
	base, err := in.Repo.Source.Revision(ctx, in.Repo.Branch)
	if err != nil {
		return fmt.Errorf("reading %s: %w", in.Repo.Branch, err)
	}
	res.Base = base.SHA
	head, err := in.Repo.Source.FetchRef(ctx, in.Ref)
	if err != nil {
		return err
	}
	res.Revision = head.SHA
	// What the pull request changes is counted from where it left the
	// branch: commits that landed on the branch since are not its own.
	cmp := base
	if mb, err := in.Repo.Source.MergeBase(ctx, base.SHA, head.SHA); err == nil && mb != base.SHA {
		if r, err := in.Repo.Source.Revision(ctx, mb); err == nil {
			cmp, res.MergeBase = r, mb
		}
	}
	d, diags := p.Loader.Load(in.Repo.Name, head.Tree, in.Repo.Path)
	if diags.HasErrors() {
		res.Diagnostics = manifest.Format(diags)
		for i := range res.Diagnostics {
			res.Diagnostics[i] = p.scrub(res.Diagnostics[i])
		}
		return fmt.Errorf("%w at %s", ErrInvalid, head.Short())
	}
	c := &comparison{p: p, in: in, base: cmp, head: head, d: d, outs: map[string]map[string]appliers.Output{},
		changed: map[string]bool{}}
	c.loadBase(ctx)
	var todo []*appResult
	for _, name := range d.Order {
		ar, err := c.decide(ctx, d.Apps[name])
		if err != nil {
			return err
		}
		if ar == nil {
			res.Unchanged = append(res.Unchanged, name)
			continue
		}
		todo = append(todo, ar)
	}
	c.planAll(ctx, in.Sem, todo)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, ar := range todo {
		res.Apps = append(res.Apps, ar.AppResult)
	}
	if c.bd != nil {
		for _, name := range c.bd.Order {
			if _, ok := d.Apps[name]; !ok {
				res.Removed = append(res.Removed, name)
			}
		}
	}
	return nil
}

// previewName names a preview in logs.
func previewName(in Input) string {
	if in.PR > 0 {
		return "pr-" + strconv.Itoa(in.PR)
	}
	return "ref-" + strings.NewReplacer("/", "_", ".", "_").Replace(in.Ref)
}

func (p *Planner) scrub(s string) string {
	if p.Redactor == nil {
		return redact.New().String(s)
	}
	return p.Redactor.String(s)
}

func (p *Planner) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// comparison is one preview in progress: the head's desired state against
// the base's.
type comparison struct {
	p          *Planner
	in         Input
	base, head *sources.Revision
	d, bd      *manifest.Desired // head, base (nil: invalid or unreadable)
	paths      []string          // changed between base and head
	allChanged bool              // paths unknown: every app is changed

	mu      sync.Mutex
	outs    map[string]map[string]appliers.Output // outputs of unchanged apps
	changed map[string]bool
}

type appResult struct {
	AppResult
	app  *manifest.App
	spec appliers.Spec
}

func (c *comparison) loadBase(ctx context.Context) {
	c.bd = c.p.loadBase(c.in.Repo, c.base)
	paths, err := c.in.Repo.Source.ChangedPaths(ctx, c.base.SHA, c.head.SHA)
	if err != nil {
		c.p.log().Warn("cannot tell what changed; previewing every app", "repo", c.in.Repo.Name, "error", c.p.scrub(err.Error()))
		c.allChanged = true
	}
	c.paths = paths
}

// decide decodes app at the head and tells whether a deploy of the merged
// head would plan it (nil: it would not). Its references to apps that are
// changed too are unknown values.
func (c *comparison) decide(ctx context.Context, app *manifest.App) (*appResult, error) {
	ar := &appResult{AppResult: AppResult{App: app.Name, Kind: app.Kind, Changes: []appliers.Change{}}, app: app}
	outs := map[string]map[string]cty.Value{}
	var unapplied []string
	for _, ref := range app.Refs {
		if c.changed[ref] {
			ar.After = append(ar.After, ref)
			continue
		}
		o, err := c.outputsOf(ctx, ref)
		if err != nil {
			ar.Error = c.p.scrub(fmt.Sprintf("reading the outputs of %q: %v", ref, err))
			c.changed[app.Name] = true
			return ar, nil
		}
		if len(o) == 0 {
			// Never applied (no state): its outputs come with its
			// first deploy. That alone does not make the app changed.
			unapplied = append(unapplied, ref)
			continue
		}
		vals, err := manifest.OutputValues(o)
		if err != nil {
			return nil, fmt.Errorf("outputs of %q: %w", ref, err)
		}
		outs[ref] = vals
	}
	spec, diags := c.p.Loader.Decode(c.in.Repo.Name, c.head.Tree, c.d, app, outs)
	if diags.HasErrors() {
		ar.Error = c.p.scrub(strings.Join(manifest.Format(diags), "\n"))
		c.changed[app.Name] = true
		return ar, nil
	}
	ar.spec = spec
	if u, ok := spec.(appliers.UnknownReporter); ok {
		ar.Unknown = u.UnknownInputs()
	}
	if !c.changedApp(app, spec, outs) && len(ar.After) == 0 {
		return nil, nil
	}
	ar.After = append(ar.After, unapplied...)
	c.changed[app.Name] = true
	return ar, nil
}

// changedApp applies the deploy's rule: a new app, another kind, another
// spec hash, or a changed path under the spec's inputs.
func (c *comparison) changedApp(app *manifest.App, spec appliers.Spec, outs map[string]map[string]cty.Value) bool {
	if c.bd == nil || c.allChanged {
		return true
	}
	ba, ok := c.bd.Apps[app.Name]
	if !ok || ba.Kind != app.Kind {
		return true
	}
	bspec, diags := c.p.Loader.Decode(c.in.Repo.Name, c.base.Tree, c.bd, ba, outs)
	if diags.HasErrors() {
		return true
	}
	if reconciler.SpecHash(app.Kind, spec) != reconciler.SpecHash(ba.Kind, bspec) {
		return true
	}
	return reconciler.InputsTouched(c.paths, spec)
}

// loadBase loads the manifests at the base (nil when invalid), once per
// base revision: previews of several pull requests share it.
func (p *Planner) loadBase(repo Repo, base *sources.Revision) *manifest.Desired {
	key := repo.Name + "\x00" + repo.Path + "\x00" + base.SHA
	p.baseMu.Lock()
	defer p.baseMu.Unlock()
	if p.baseKey == key {
		return p.base
	}
	bd, diags := p.Loader.Load(repo.Name, base.Tree, repo.Path)
	if diags.HasErrors() {
		bd = nil
	}
	p.baseKey, p.base = key, bd
	return bd
}

// outputsOf reads the outputs of an unchanged app (once per preview).
func (c *comparison) outputsOf(ctx context.Context, name string) (map[string]appliers.Output, error) {
	c.mu.Lock()
	o, ok := c.outs[name]
	c.mu.Unlock()
	if ok {
		return o, nil
	}
	app := c.d.Apps[name]
	pv, ok := c.p.Loader.Applier(app.Kind).(appliers.Previewer)
	if !ok {
		return nil, fmt.Errorf("%s apps have no outputs to preview", app.Kind)
	}
	// The app is unchanged: decode it as at the head, with the outputs
	// of its own references (read the same way).
	refs := map[string]map[string]cty.Value{}
	for _, ref := range app.Refs {
		ro, err := c.outputsOf(ctx, ref)
		if err != nil {
			return nil, err
		}
		vals, err := manifest.OutputValues(ro)
		if err != nil {
			return nil, err
		}
		refs[ref] = vals
	}
	spec, diags := c.p.Loader.Decode(c.in.Repo.Name, c.head.Tree, c.d, app, refs)
	if diags.HasErrors() {
		return nil, errors.New(strings.Join(manifest.Format(diags), "; "))
	}
	wd, err := c.p.slots.take(c.p.WorkDir, c.in.Repo.Name, name)
	if err != nil {
		return nil, fmt.Errorf("preview work dir: %w", err)
	}
	defer c.p.slots.give(c.in.Repo.Name, name, wd)
	o, err = pv.PreviewOutputs(ctx, c.request(app, spec, wd))
	if err != nil {
		return nil, err
	}
	if c.p.Redactor != nil {
		c.p.Redactor.Add(reconciler.SensitiveStrings(o)...)
	}
	c.mu.Lock()
	c.outs[name] = o
	c.mu.Unlock()
	return o, nil
}

func (c *comparison) request(app *manifest.App, spec appliers.Spec, wd string) appliers.PreviewRequest {
	return appliers.PreviewRequest{WorkDir: wd, Request: appliers.Request{Repo: c.in.Repo.Name, App: app.Name, Revision: c.head.SHA,
		Spec: spec, Tree: c.head.Tree, Observer: appliers.NopObserver{},
		Log: c.p.log().With("repo", c.in.Repo.Name, "app", app.Name, "revision", c.head.SHA, "preview", previewName(c.in))}}
}

// planAll plans the apps that can be planned, at most cap(sem) at once.
func (c *comparison) planAll(ctx context.Context, sem chan struct{}, todo []*appResult) {
	if sem == nil {
		sem = make(chan struct{}, 1)
	}
	var wg sync.WaitGroup
	for _, ar := range todo {
		if ar.Error != "" || len(ar.After) > 0 || len(ar.Unknown) > 0 {
			ar.Changed = ar.Error == ""
			switch {
			case ar.Error != "":
			case len(ar.After) > 0:
				ar.Summary = "planned after " + strings.Join(ar.After, ", ") + " is applied"
			default:
				ar.Summary = "inputs known only after apply: " + strings.Join(ar.Unknown, ", ")
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			c.plan(ctx, ar)
		}()
	}
	wg.Wait()
}

func (c *comparison) plan(ctx context.Context, ar *appResult) {
	wd, err := c.p.slots.take(c.p.WorkDir, c.in.Repo.Name, ar.App)
	if err != nil {
		ar.Error = c.p.scrub(fmt.Sprintf("preview work dir: %v", err))
		return
	}
	defer c.p.slots.give(c.in.Repo.Name, ar.App, wd)
	a := c.p.Loader.Applier(ar.Kind)
	var pp *appliers.PreviewPlan
	if pv, ok := a.(appliers.Previewer); ok {
		pp, err = pv.PreviewPlan(ctx, c.request(ar.app, ar.spec, wd))
	} else {
		var pl *appliers.Plan
		if pl, err = a.Plan(ctx, c.request(ar.app, ar.spec, wd).Request); err == nil {
			pp = &appliers.PreviewPlan{Plan: *pl}
		}
	}
	if err != nil {
		ar.Error = c.p.scrub("plan: " + err.Error())
		return
	}
	ar.Changed, ar.Summary, ar.Text = pp.Changed, c.p.scrub(pp.Summary), c.p.scrub(pp.Text)
	if pp.Changes != nil {
		ar.Changes = pp.Changes
	}
}
