package preview

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/terraform"
	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
)

// fakeForge is an in-memory forge.Forge: comments by pull request, the
// commit statuses in the order they were set.
type fakeForge struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every status

	comments map[int][]fakeComment
	statuses []fakeStatus
	upserts  int
	nextID   int64
}

type fakeComment struct {
	id   int64
	body string
}

type fakeStatus struct {
	sha string
	forge.CommitStatus
}

func newFakeForge() *fakeForge {
	return &fakeForge{comments: map[int][]fakeComment{}, changed: make(chan struct{})}
}

func (f *fakeForge) EditComment(_ context.Context, _ forge.Repo, number int, marker string, edit func(string) (string, bool)) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := ""
	for _, c := range f.comments[number] {
		if strings.Contains(c.body, marker) {
			old = c.body
			break
		}
	}
	body, write := edit(old)
	if !write {
		return 0, nil
	}
	if !strings.Contains(body, marker) {
		return 0, fmt.Errorf("body without the marker")
	}
	f.upserts++
	for i, c := range f.comments[number] {
		if strings.Contains(c.body, marker) {
			f.comments[number][i].body = body
			return c.id, nil
		}
	}
	f.nextID++
	f.comments[number] = append(f.comments[number], fakeComment{id: f.nextID, body: body})
	return f.nextID, nil
}

func (f *fakeForge) FindComment(_ context.Context, _ forge.Repo, number int, marker string) (int64, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.comments[number] {
		if strings.Contains(c.body, marker) {
			return c.id, c.body, nil
		}
	}
	return 0, "", forge.ErrNotFound
}

func (f *fakeForge) SetStatus(_ context.Context, _ forge.Repo, sha string, s forge.CommitStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, fakeStatus{sha: sha, CommitStatus: s})
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

func (f *fakeForge) CreateDeployment(context.Context, forge.Repo, forge.Deployment) (int64, error) {
	return 0, fmt.Errorf("not used")
}
func (f *fakeForge) SetDeploymentStatus(context.Context, forge.Repo, int64, forge.DeploymentStatus) error {
	return fmt.Errorf("not used")
}
func (f *fakeForge) OpenPullRequest(context.Context, forge.Repo, forge.PullRequest) (forge.Ref, error) {
	return forge.Ref{}, fmt.Errorf("not used")
}
func (f *fakeForge) OpenIssue(context.Context, forge.Repo, forge.Issue) (forge.Ref, error) {
	return forge.Ref{}, fmt.Errorf("not used")
}

func (f *fakeForge) upsertCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.upserts
}

// comment returns the body of the one comment on pull request n.
func (f *fakeForge) comment(t testing.TB, n int) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.comments[n]) != 1 {
		t.Fatalf("pull request %d has %d comments, want 1", n, len(f.comments[n]))
	}
	return f.comments[n][0].body
}

// states returns the states set on sha, in order.
func (f *fakeForge) states(sha string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.statuses {
		if s.sha == sha {
			out = append(out, s.State)
		}
	}
	return out
}

// waitFinal waits until sha has a final status (not pending) and returns it.
func (f *fakeForge) waitFinal(t testing.TB, sha string, within time.Duration) fakeStatus {
	t.Helper()
	timeout := time.After(within)
	for {
		f.mu.Lock()
		for _, s := range f.statuses {
			if s.sha == sha && s.State != forge.StatusPending {
				f.mu.Unlock()
				return s
			}
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
			continue
		case <-timeout:
		}
		break
	}
	t.Fatalf("no final status on %s within %s (statuses %v)", sha, within, f.states(sha))
	return fakeStatus{}
}

// events records what the runner emits.
type events struct {
	mu  sync.Mutex
	all []notify.Event
}

func (e *events) Emit(_ context.Context, category, action string, d notify.Data) notify.Event {
	ev := notify.New("test", category, action, d)
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	return ev
}

func (e *events) list() []notify.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]notify.Event(nil), e.all...)
}

func (e *events) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, ev.Type)
	}
	return out
}

// harness is a watched repository (a real Git repo), the real Terraform
// applier deploying it, and a preview Runner posting to a fake forge.
type harness struct {
	t        testing.TB
	g        *testenv.GitRepo
	src      *sources.Repo
	tf       *terraform.Applier
	loader   *manifest.Loader
	red      *redact.Redactor
	stateDir string
	forge    *fakeForge
	events   *events
	runner   *Runner
	planner  *Planner
	applied  map[string]map[string]appliers.Output
}

type harnessOpts struct {
	env        map[string]string // terraform.env
	allowForks bool
}

func newHarness(t testing.TB, files map[string]string, o harnessOpts) *harness {
	t.Helper()
	bin := testenv.TerraformBinary(t)
	h := &harness{t: t, g: testenv.NewGitRepo(t), red: redact.New(), stateDir: t.TempDir(), forge: newFakeForge(),
		events: &events{}, applied: map[string]map[string]appliers.Output{}}
	for name, content := range files {
		h.g.Write(name, content)
	}
	h.g.Commit("base")
	ctx := context.Background()
	var err error
	h.src, err = sources.Open(ctx, sources.Config{Name: "infra", URL: h.g.URL(), Dir: filepath.Join(h.stateDir, "git", "infra"), Redactor: h.red}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	h.tf, err = terraform.New(terraform.Config{Binary: bin, WorkDir: filepath.Join(h.stateDir, "terraform"),
		PluginCache: filepath.Join(h.stateDir, "plugin-cache"), BaseEnv: os.Environ(), Env: o.env, Redactor: h.red}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.loader = manifest.New(h.tf)
	h.planner = &Planner{Loader: h.loader, WorkDir: filepath.Join(h.stateDir, "previews"), Redactor: h.red,
		Log: slog.New(h.red.Handler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))}
	h.runner, err = New(Options{Planner: h.planner, Forge: h.forge, Events: h.events, Log: h.planner.Log,
		Repos: []RepoOptions{{Repo: h.repo(), Forge: forge.Repo{Owner: "acme", Name: "infra"}, AllowForks: o.allowForks}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.runner.Close)
	return h
}

func (h *harness) tfBinary() string { return testenv.TerraformBinary(h.t) }

func (h *harness) repo() Repo {
	return Repo{Name: "infra", Branch: "main", Path: "deploy", Source: h.src}
}

// deploy applies every app at the tracked branch's head, as the
// reconciler would: in DAG order, each decoded with its references'
// outputs, planned and applied through the applier's deploy path.
func (h *harness) deploy() {
	h.t.Helper()
	ctx := context.Background()
	rev, _, err := h.src.Poll(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	d, diags := h.loader.Load("infra", rev.Tree, "deploy")
	if diags.HasErrors() {
		h.t.Fatal(diags)
	}
	for _, name := range d.Order {
		app := d.Apps[name]
		outs := map[string]map[string]cty.Value{}
		for _, ref := range app.Refs {
			v, err := manifest.OutputValues(h.applied[ref])
			if err != nil {
				h.t.Fatal(err)
			}
			outs[ref] = v
		}
		spec, diags := h.loader.Decode("infra", rev.Tree, d, app, outs)
		if diags.HasErrors() {
			h.t.Fatal(diags)
		}
		req := appliers.Request{Repo: "infra", App: name, Revision: rev.SHA, Spec: spec, Tree: rev.Tree, DeployID: "d-" + name, Observer: appliers.NopObserver{}}
		p, err := h.tf.Plan(ctx, req)
		if err != nil {
			h.t.Fatalf("plan %s: %v", name, err)
		}
		res, err := h.tf.Apply(ctx, req, p)
		if err != nil {
			h.t.Fatalf("apply %s: %v", name, err)
		}
		h.applied[name] = res.Outputs
	}
}

// push commits files on branch pr-N (from main) and points
// refs/pull/N/head at it, as GitHub does; it returns the head SHA.
func (h *harness) push(n int, files map[string]string) string {
	h.t.Helper()
	branch := fmt.Sprintf("pr-%d", n)
	if strings.Contains(h.g.Git("branch", "--list", branch), branch) {
		h.g.Git("checkout", "-q", branch)
	} else {
		h.g.Git("checkout", "-q", "-b", branch, "main")
	}
	for name, content := range files {
		h.g.Write(name, content)
	}
	sha := h.g.Commit(fmt.Sprintf("change %d", n))
	h.g.Git("checkout", "-q", "main")
	h.g.Git("update-ref", sources.PullRef(n), sha)
	return sha
}

// open sends the pull request event and waits for the preview's final
// status.
func (h *harness) open(n int, action, sha string, fork bool) fakeStatus {
	h.t.Helper()
	if !h.runner.Handle(Request{Repo: "infra", Number: n, Action: action, HeadSHA: sha, HeadRef: fmt.Sprintf("pr-%d", n),
		BaseRef: "main", Fork: fork, URL: fmt.Sprintf("https://github.com/acme/infra/pull/%d", n)}) {
		h.t.Fatal("Handle refused the request")
	}
	return h.forge.waitFinal(h.t, sha, 2*time.Minute)
}

func mustContain(t testing.TB, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("missing %q in:\n%s", w, s)
		}
	}
}

func lastEvent(t testing.TB, e *events) notify.Event {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.all) == 0 {
		t.Fatal("no event")
	}
	return e.all[len(e.all)-1]
}

var _ = slices.Equal[[]string]
