package terraform

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

// testRepo is a repository work tree on disk; Tree() is what a revision's
// tree looks like to the applier.
type testRepo struct {
	t   testing.TB
	dir string
}

func newRepo(t testing.TB, files map[string]string) *testRepo {
	r := &testRepo{t: t, dir: t.TempDir()}
	r.write(files)
	return r
}

func (r *testRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *testRepo) remove(name string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.dir, filepath.FromSlash(name))); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) Tree() fs.FS { return os.DirFS(r.dir) }

func newTestApplier(t testing.TB, mut func(*Config)) *Applier {
	t.Helper()
	bin := testenv.TerraformBinary(t)
	state := t.TempDir()
	cfg := Config{
		Binary:      bin,
		WorkDir:     filepath.Join(state, "terraform"),
		PluginCache: filepath.Join(state, "plugin-cache"),
		BaseEnv:     os.Environ(),
	}
	if mut != nil {
		mut(&cfg)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// decodeStack decodes one manifest block through the applier.
func decodeStack(t testing.TB, a *Applier, tree fs.FS, src string, vars map[string]cty.Value) *Spec {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "deploy/stacks.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	blk := f.Body.(*hclsyntax.Body).Blocks[0]
	spec, diags := a.Decode(appliers.DecodeContext{Repo: "platform", App: blk.Labels[0], Tree: tree, Eval: &hcl.EvalContext{Variables: vars}, Block: blk.DefRange()}, blk.Body)
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags)
	}
	return spec.(*Spec)
}

type stepRecorder struct {
	mu    sync.Mutex
	steps []string
}

func (s *stepRecorder) Step(m string)        { s.mu.Lock(); s.steps = append(s.steps, m); s.mu.Unlock() }
func (*stepRecorder) RollbackStarted(string) {}
func (*stepRecorder) RollbackDone(error)     {}

func request(app, rev string, spec *Spec, tree fs.FS) appliers.Request {
	return appliers.Request{Repo: "platform", App: app, Revision: rev, Spec: spec, Tree: tree, DeployID: "d-" + rev, Observer: &stepRecorder{}}
}

func mustPlan(t testing.TB, a *Applier, req appliers.Request) *appliers.Plan {
	t.Helper()
	p, err := a.Plan(context.Background(), req)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p
}

func mustApply(t testing.TB, a *Applier, req appliers.Request, p *appliers.Plan) *appliers.Result {
	t.Helper()
	r, err := a.Apply(context.Background(), req, p)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return r
}

func outputString(t testing.TB, outs map[string]appliers.Output, name string) string {
	t.Helper()
	o, ok := outs[name]
	if !ok {
		t.Fatalf("output %q missing from %v", name, keys(outs))
	}
	var s string
	if err := json.Unmarshal(o.Value, &s); err != nil {
		t.Fatalf("output %q = %s: %v", name, o.Value, err)
	}
	return s
}

func keys(m map[string]appliers.Output) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func containsChange(cs []appliers.Change, addr, action string) bool {
	for _, c := range cs {
		if c.Address == addr && c.Action == action {
			return true
		}
	}
	return false
}

func mustNotContain(t testing.TB, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s contains secret %q: %s", what, sec, s)
		}
	}
}
