package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// fakeSource serves commits made in memory.
type fakeSource struct {
	mu      sync.Mutex
	commits []*sources.Revision
	files   map[string]map[string]string
	head    int
	err     error
	polls   int
}

func newFakeSource() *fakeSource { return &fakeSource{files: map[string]map[string]string{}, head: -1} }

// commit records a new head whose tree is the previous one with changes
// applied (an empty value deletes a file).
func (s *fakeSource) commit(msg string, changes map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	files := map[string]string{}
	if s.head >= 0 {
		for k, v := range s.files[s.commits[s.head].SHA] {
			files[k] = v
		}
	}
	for k, v := range changes {
		if v == "" {
			delete(files, k)
		} else {
			files[k] = v
		}
	}
	sha := fmt.Sprintf("%07x%033d", len(s.commits)+0xa000001, len(s.commits)+1)
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	rev := &sources.Revision{Repo: "r", Branch: "main", SHA: sha, Author: "Ada", Message: msg, PR: sources.ParsePR(msg), Tree: m, Time: time.Now()}
	s.commits = append(s.commits, rev)
	s.files[sha] = files
	s.head = len(s.commits) - 1
	return sha
}

func (s *fakeSource) Poll(context.Context) (*sources.Revision, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	if s.err != nil {
		return nil, false, s.err
	}
	return s.commits[s.head], true, nil
}

func (s *fakeSource) Revision(_ context.Context, rev string) (*sources.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *sources.Revision
	for _, c := range s.commits {
		if c.SHA == rev {
			return c, nil
		}
		if len(rev) >= 4 && strings.HasPrefix(c.SHA, rev) {
			if found != nil {
				return nil, errors.New("ambiguous revision")
			}
			found = c
		}
	}
	if found != nil {
		return found, nil
	}
	return nil, errors.New("unknown revision")
}

func (s *fakeSource) ChangedPaths(_ context.Context, from, to string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, b := s.files[from], s.files[to]
	if a == nil || b == nil {
		return nil, errors.New("unknown revision")
	}
	set := map[string]bool{}
	for k, v := range a {
		if b[k] != v {
			set[k] = true
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			set[k] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// fakeStack is a unit-test applier: its "live" state is a map it keeps.
type fakeSpec struct {
	Path      string            `json:"path"`
	Vars      map[string]string `json:"vars"`
	AutoApply bool              `json:"auto_apply"`
}

func (s *fakeSpec) Inputs() []string       { return []string{s.Path} }
func (s *fakeSpec) ApprovalRequired() bool { return !s.AutoApply }

type fakeStack struct {
	mu       sync.Mutex
	live     map[string]string // app → JSON of vars applied
	plans    map[string]int
	applies  map[string]int
	order    []string
	failPlan map[string]error
	failApp  map[string]error
	applied  []*appliers.Plan
}

func newFakeStack() *fakeStack {
	return &fakeStack{live: map[string]string{}, plans: map[string]int{}, applies: map[string]int{}, failPlan: map[string]error{}, failApp: map[string]error{}}
}

func (f *fakeStack) Kind() string { return "stack" }

func (f *fakeStack) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	var raw struct {
		Path      string            `hcl:"path"`
		Vars      map[string]string `hcl:"vars,optional"`
		AutoApply *bool             `hcl:"auto_apply,optional"`
	}
	if diags := gohcl.DecodeBody(body, dc.Eval, &raw); diags.HasErrors() {
		return nil, diags
	}
	if _, err := fs.Stat(dc.Tree, raw.Path); err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing path", Detail: raw.Path, Subject: dc.Block.Ptr()}}
	}
	return &fakeSpec{Path: raw.Path, Vars: raw.Vars, AutoApply: raw.AutoApply == nil || *raw.AutoApply}, nil
}

func (f *fakeStack) content(req appliers.Request) string {
	sp := req.Spec.(*fakeSpec)
	b, _ := json.Marshal(sp.Vars)
	data, _ := fs.ReadFile(req.Tree, sp.Path+"/main.tf")
	return string(b) + "|" + string(data)
}

func (f *fakeStack) Plan(_ context.Context, req appliers.Request) (*appliers.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans[req.App]++
	if err := f.failPlan[req.App]; err != nil {
		return nil, err
	}
	want := f.content(req)
	changed := f.live[req.App] != want
	p := &appliers.Plan{Changed: changed, ID: req.Revision + ":" + want, Artifact: want}
	if changed {
		p.Summary = "1 to change"
		p.Changes = []appliers.Change{{Address: "terraform_data." + req.App, Action: "update"}}
	}
	return p, nil
}

func (f *fakeStack) Apply(_ context.Context, req appliers.Request, p *appliers.Plan) (*appliers.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies[req.App]++
	f.order = append(f.order, req.App)
	if err := f.failApp[req.App]; err != nil {
		return nil, err
	}
	f.live[req.App] = p.Artifact.(string)
	f.applied = append(f.applied, p)
	vars := req.Spec.(*fakeSpec).Vars
	outs := map[string]appliers.Output{}
	for k, v := range vars {
		b, _ := json.Marshal(v)
		outs[k] = appliers.Output{Value: b, Type: []byte(`"string"`), Sensitive: strings.HasPrefix(k, "secret_")}
	}
	return &appliers.Result{Changes: p.Changes, Outputs: outs}, nil
}

func (f *fakeStack) Outputs(_ context.Context, req appliers.Request) (map[string]appliers.Output, error) {
	return map[string]appliers.Output{}, nil
}

func (f *fakeStack) counts() (map[string]int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, a := map[string]int{}, map[string]int{}
	for k, v := range f.plans {
		p[k] = v
	}
	for k, v := range f.applies {
		a[k] = v
	}
	return p, a
}

// eventLog is an Emitter that keeps events in memory.
type eventLog struct {
	mu     sync.Mutex
	events []notify.Event
}

func (r *eventLog) Emit(_ context.Context, category, action string, d notify.Data) notify.Event {
	ev := notify.New("test", category, action, d)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return ev
}

// types lists "category.action[ app]" of events since index from.
func (r *eventLog) types(from int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events[from:] {
		s := e.Category() + "." + e.Action()
		if e.Data.App != "" {
			s += " " + e.Data.App
		}
		out = append(out, s)
	}
	return out
}

func (r *eventLog) all() []notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Event(nil), r.events...)
}

func (r *eventLog) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *eventLog) find(typ, app string) *notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		e := r.events[i]
		if e.Category()+"."+e.Action() == typ && e.Data.App == app {
			return &e
		}
	}
	return nil
}

type harness struct {
	t     *testing.T
	src   *fakeSource
	stack *fakeStack
	store *state.MemStore
	drift *drift.MemStore
	ev    *eventLog
	now   time.Time
	c     *Controller
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, src: newFakeSource(), stack: newFakeStack(), store: state.NewMemStore(), drift: drift.NewMemStore(), ev: &eventLog{}, now: time.Unix(1_700_000_000, 0)}
	h.c = h.controller()
	return h
}

func (h *harness) controller() *Controller { return h.controllerWith(h.stack) }

// controllerWith is controller with another applier for stacks.
func (h *harness) controllerWith(stack appliers.Applier) *Controller {
	return h.controllerOf(stack, h.store)
}

// controllerWithStore is controller over store (which wraps h.store).
func (h *harness) controllerWithStore(store state.Store) *Controller {
	return h.controllerOf(h.stack, store)
}

func (h *harness) controllerOf(stack appliers.Applier, store state.Store) *Controller {
	c, err := New(Options{Instance: "test", Loader: manifest.New(stack), Store: store, Events: h.ev,
		Drift: drift.NewTracker(h.drift, 0, func() time.Time { return h.now }),
		Now:   func() time.Time { return h.now }, MaxParallel: 2},
		[]Repo{{Name: "r", Path: "deploy", Interval: time.Minute, Source: h.src}})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) sync() {
	h.t.Helper()
	if err := h.c.SyncOnce(context.Background(), "r"); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
}

// state is the app's state as the API shows it.
func (h *harness) state(app string) state.AppState {
	h.t.Helper()
	st, err := h.c.App(context.Background(), "r", app)
	if err != nil {
		h.t.Fatalf("state of %s: %v", app, err)
	}
	return st
}

// Drift reports a drift when the fake's live content differs from what
// the spec would apply; the test edits live to simulate out-of-band change.
func (f *fakeStack) Drift(_ context.Context, req appliers.Request, ignore []string) (*appliers.DriftReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := f.content(req)
	live := f.live[req.App]
	if live == want || slices.Contains(ignore, "everything") {
		return &appliers.DriftReport{}, nil
	}
	return &appliers.DriftReport{Items: []appliers.DriftItem{{Address: "terraform_data." + req.App, Attributes: []string{live}, Action: "update"}}}, nil
}

func (f *fakeStack) tamper(app, content string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[app] = content
}

// IsAncestor: the fake's history is linear.
func (s *fakeSource) IsAncestor(_ context.Context, a, b string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ia, ib := -1, -1
	for i, c := range s.commits {
		if c.SHA == a {
			ia = i
		}
		if c.SHA == b {
			ib = i
		}
	}
	if ia < 0 || ib < 0 {
		return false, errors.New("unknown revision")
	}
	return ia <= ib, nil
}

// Revert commits the tree of opts.To on top of the head, as sources.Repo does.
func (s *fakeSource) Revert(_ context.Context, opts sources.RevertOptions) (*sources.Revision, error) {
	s.mu.Lock()
	files := s.files[opts.To]
	head := s.commits[s.head].SHA
	s.mu.Unlock()
	if files == nil {
		return nil, errors.New("unknown revision")
	}
	changes := map[string]string{}
	for k := range s.files[head] {
		changes[k] = "" // delete everything, then restore To's files
	}
	for k, v := range files {
		changes[k] = v
	}
	sha := s.commit("Revert to "+opts.To[:7]+"\n\nThis reverts commit "+head+".", changes)
	s.mu.Lock()
	defer s.mu.Unlock()
	rev := s.commits[s.head]
	rev.Reverts = []string{head}
	_ = sha
	return rev, nil
}
