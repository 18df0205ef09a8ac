package appliertest

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/manifest"
)

// Harness describes one applier to Run.
type Harness struct {
	// New builds the applier under test for decoding only, as validate
	// does: no live clients.
	New func(t *testing.T) appliers.Applier
	// Kind is the block type the applier owns.
	Kind string
	// Block is the source of one valid block of Kind, e.g.
	// `stack "net" { path = "infra/net" }`, using no shared attributes
	// (depends_on, self_heal, …: the loader strips those).
	Block string
	// Files is the repository the block is decoded against (path →
	// content); every path the block names must be here.
	Files map[string]string
	// Invalid are blocks of Kind that Decode must reject.
	Invalid []string
	// Calls, when set, reports how many calls the applier's clients made
	// so far; Run checks that Decode and the refused Applies made none.
	Calls func() int
}

// File is the manifest file name diagnostics must point into.
const File = "conformance.hcl"

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Kind == "" || h.Block == "" {
		t.Fatal("appliertest: Harness needs New, Kind and Block")
	}
	t.Run("Kind", func(t *testing.T) { checkKind(t, h) })
	t.Run("DecodeOffline", func(t *testing.T) { checkOffline(t, h) })
	t.Run("DeterministicSpec", func(t *testing.T) { checkDeterministic(t, h) })
	t.Run("Inputs", func(t *testing.T) { checkInputs(t, h) })
	t.Run("InvalidHasRanges", func(t *testing.T) { checkInvalid(t, h) })
	t.Run("ApplyForeignPlan", func(t *testing.T) { checkForeignPlan(t, h) })
}

func (h Harness) tree() fstest.MapFS {
	tree := fstest.MapFS{}
	for p, c := range h.Files {
		tree[p] = &fstest.MapFile{Data: []byte(c), Mode: 0o644}
	}
	return tree
}

// parse returns the single block of src.
func parse(t *testing.T, src string) *hcl.Block {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), File, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parsing the harness block: %v", diags)
	}
	blocks := f.Body.(*hclsyntax.Body).Blocks
	if len(blocks) != 1 || len(blocks[0].Labels) != 1 {
		t.Fatalf("the harness block must be one block with one label, got %d blocks", len(blocks))
	}
	return blocks[0].AsHCLBlock()
}

// decode decodes src with a's Decode the way the loader does.
func decode(t *testing.T, a appliers.Applier, tree fs.FS, src string) (appliers.Spec, hcl.Diagnostics) {
	t.Helper()
	b := parse(t, src)
	dc := appliers.DecodeContext{Repo: "conformance", App: b.Labels[0], Tree: tree,
		Eval: &hcl.EvalContext{Functions: manifest.Functions(tree)}, Block: b.DefRange}
	return a.Decode(dc, b.Body)
}

func decodeValid(t *testing.T, h Harness, a appliers.Applier) appliers.Spec {
	t.Helper()
	spec, diags := decode(t, a, h.tree(), h.Block)
	if diags.HasErrors() || spec == nil {
		t.Fatalf("decoding the harness block: %v", diags)
	}
	return spec
}

func checkKind(t *testing.T, h Harness) {
	a := h.New(t)
	if a.Kind() != h.Kind {
		t.Errorf("Kind() = %q, want %q", a.Kind(), h.Kind)
	}
	if !hclsyntax.ValidIdentifier(a.Kind()) || strings.ContainsAny(a.Kind(), "-") {
		t.Errorf("Kind() = %q is not a block type written like stack or ecs_service", a.Kind())
	}
	if b := parse(t, h.Block); b.Type != a.Kind() {
		t.Errorf("the harness block is a %q block, the applier owns %q", b.Type, a.Kind())
	}
}

// noNetwork makes the default HTTP transport and the AWS/proxy environment
// refuse to reach anything for the rest of the test, and returns the
// number of dials attempted.
func noNetwork(t *testing.T) *atomic.Int64 {
	t.Helper()
	closed := closedAddr(t)
	t.Setenv("AWS_ENDPOINT_URL", "http://"+closed)
	t.Setenv("HTTP_PROXY", "http://"+closed)
	t.Setenv("HTTPS_PROXY", "http://"+closed)
	t.Setenv("NO_PROXY", "")
	var dials atomic.Int64
	prev := http.DefaultTransport
	http.DefaultTransport = &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("appliertest: network use refused")
	}}
	t.Cleanup(func() { http.DefaultTransport = prev })
	return &dials
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func (h Harness) calls() int {
	if h.Calls == nil {
		return 0
	}
	return h.Calls()
}

func checkOffline(t *testing.T, h Harness) {
	dials := noNetwork(t)
	a := h.New(t)
	before := h.calls()
	decodeValid(t, h, a)
	for _, src := range h.Invalid {
		decode(t, a, h.tree(), src)
	}
	if n := dials.Load(); n > 0 {
		t.Errorf("Decode dialled the network %d time(s)", n)
	}
	if n := h.calls() - before; n > 0 {
		t.Errorf("Decode made %d client call(s)", n)
	}
}

func checkDeterministic(t *testing.T, h Harness) {
	var first []byte
	for i := range 8 {
		a := h.New(t)
		spec := decodeValid(t, h, a)
		b, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("Spec does not marshal to JSON: %v", err)
		}
		if i == 0 {
			first = b
			continue
		}
		if string(b) != string(first) {
			t.Fatalf("decode %d marshals differently:\n%s\nfirst:\n%s", i+1, b, first)
		}
	}
}

func checkInputs(t *testing.T, h Harness) {
	tree := h.tree()
	spec := decodeValid(t, h, h.New(t))
	for _, p := range spec.Inputs() {
		switch {
		case p == "" || strings.Contains(p, `\`):
			t.Errorf("input %q is not a slash-separated path", p)
		case strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../"):
			t.Errorf("input %q is not inside the repository", p)
		case path.Clean(p) != p:
			t.Errorf("input %q is not clean (%q)", p, path.Clean(p))
		default:
			if _, err := fs.Stat(tree, p); err != nil {
				t.Errorf("input %q is not in the repository: %v", p, err)
			}
		}
	}
}

func checkInvalid(t *testing.T, h Harness) {
	for _, src := range h.Invalid {
		_, diags := decode(t, h.New(t), h.tree(), src)
		if !diags.HasErrors() {
			t.Errorf("no error decoding\n%s", src)
			continue
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Subject == nil || d.Subject.Filename != File || d.Subject.Start.Line < 1 || d.Subject.Start.Column < 1 {
				t.Errorf("diagnostic %q (%s) has no file:line:col in %s", d.Summary, d.Detail, File)
			}
		}
	}
}

func checkForeignPlan(t *testing.T, h Harness) {
	dials := noNetwork(t)
	a := h.New(t)
	spec := decodeValid(t, h, a)
	before := h.calls()
	req := appliers.Request{Repo: "conformance", App: "app", Revision: "0000000", Spec: spec, Tree: h.tree(),
		DeployID: "d1", Log: slog.New(slog.DiscardHandler), Observer: appliers.NopObserver{}}
	type foreign struct{}
	for name, plan := range map[string]*appliers.Plan{
		"nil plan":         nil,
		"foreign artifact": {Changed: true, ID: "p1", Artifact: &foreign{}},
	} {
		_, err := a.Apply(t.Context(), req, plan)
		if !appliers.IsStalled(err) || !errors.Is(err, appliers.ErrForeignPlan) {
			t.Errorf("Apply with %s = %v, want a Stalled error wrapping appliers.ErrForeignPlan", name, err)
		}
	}
	if n := dials.Load(); n > 0 {
		t.Errorf("Apply of a foreign plan dialled the network %d time(s)", n)
	}
	if n := h.calls() - before; n > 0 {
		t.Errorf("Apply of a foreign plan made %d client call(s)", n)
	}
}
