package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
)

const driftMain = `variable "x" {
  type = string
}
variable "secret" {
  type      = string
  sensitive = true
}
resource "terraform_data" "a" {
  input = var.x
}
resource "terraform_data" "s" {
  input = var.secret
}
resource "terraform_data" "c" {
  input = { name = "fixed", size = 3 }
}
`

const driftBlock = `stack "drifty" {
  path = "infra/drifty"
  vars = { x = "one", secret = "s3cr3t-canary" }
}`

// editState rewrites the stack's local state file: for terraform_data the
// state is the live object, so this is a change made outside Terraform.
// set maps a resource name to its new input value (nil: the resource is
// deleted).
func editState(t testing.TB, a *Applier, app, path string, set map[string]any) {
	t.Helper()
	root, err := a.WorkDirOf("platform", app)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, srcDir, filepath.FromSlash(path), "terraform.tfstate")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, r := range st["resources"].([]any) {
		res := r.(map[string]any)
		v, ok := set[res["name"].(string)]
		switch {
		case !ok:
		case v == nil:
			continue
		default:
			attrs := res["instances"].([]any)[0].(map[string]any)["attributes"].(map[string]any)
			attrs["input"].(map[string]any)["value"] = v
		}
		kept = append(kept, r)
	}
	st["resources"] = kept
	st["serial"] = st["serial"].(float64) + 1
	if b, err = json.MarshalIndent(st, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustDrift(t testing.TB, a *Applier, req appliers.Request, ignore []string) (*appliers.DriftReport, []byte) {
	t.Helper()
	start := time.Now()
	r, err := a.Drift(context.Background(), req, ignore)
	if err != nil {
		t.Fatalf("Drift: %v", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drift check (ignore %v) in %v: %s", ignore, time.Since(start).Round(time.Millisecond), b)
	return r, b
}

// TestDriftTerraformData: changes made outside (simulated on the state of
// terraform_data resources) are reported per resource with the attribute
// names only, deterministically, filtered by ignore patterns, and gone once
// the stack is applied again. Drift leaves no plan file behind.
func TestDriftTerraformData(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/drifty/main.tf": driftMain})
	spec := decodeStack(t, a, repo.Tree(), driftBlock, nil)
	req := request("drifty", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))
	inits := a.Inits()

	if r, b := mustDrift(t, a, req, nil); r.Drifted() || string(b) != `{"items":[]}` {
		t.Fatalf("drift right after apply: %s", b)
	}

	editState(t, a, "drifty", "infra/drifty", map[string]any{"a": "edited-outside", "s": "leaked-canary-edit", "c": nil})
	r, b := mustDrift(t, a, req, nil)
	want := []appliers.DriftItem{
		{Address: "terraform_data.a", Action: "update", Attributes: []string{"input"}},
		{Address: "terraform_data.c", Action: "create"},
		{Address: "terraform_data.s", Action: "update", Attributes: []string{"input"}},
	}
	if !reflect.DeepEqual(r.Items, want) {
		t.Fatalf("drift = %s, want %+v", b, want)
	}
	mustNotContain(t, "drift report", string(b), "s3cr3t-canary", "leaked-canary-edit", "edited-outside", "one")

	if _, again := mustDrift(t, a, req, nil); string(again) != string(b) {
		t.Errorf("same drift, different report:\n%s\n%s", b, again)
	}

	r, b = mustDrift(t, a, req, []string{"terraform_data.a.input", "terraform_data.c"})
	if len(r.Items) != 1 || r.Items[0].Address != "terraform_data.s" {
		t.Errorf("filtered drift = %s, want terraform_data.s only", b)
	}

	root, _ := a.WorkDirOf("platform", "drifty")
	for _, pat := range []string{"drift-*.tfplan", "plan-*.tfplan"} {
		if m, _ := filepath.Glob(filepath.Join(root, pat)); len(m) != 0 {
			t.Errorf("plan files left by Drift: %v", m)
		}
	}

	// A different change outside gives a different report.
	mustApply(t, a, req, mustPlan(t, a, req))
	editState(t, a, "drifty", "infra/drifty", map[string]any{"c": map[string]any{"name": "fixed", "size": 4}})
	if r, b := mustDrift(t, a, req, nil); len(r.Items) != 1 || !reflect.DeepEqual(r.Items[0], appliers.DriftItem{Address: "terraform_data.c", Action: "update", Attributes: []string{"input.size"}}) {
		t.Errorf("drift after a nested change = %s", b)
	}

	// Put back as it was: no drift.
	editState(t, a, "drifty", "infra/drifty", map[string]any{"c": map[string]any{"name": "fixed", "size": 3}})
	if r, b := mustDrift(t, a, req, nil); r.Drifted() {
		t.Errorf("drift after putting the value back: %s", b)
	}
	if a.Inits() != inits {
		t.Errorf("inits = %d after the drift checks, %d before: drift checks ran init", a.Inits(), inits)
	}
}

// TestDriftSerialisedWithPlan runs drift checks and plans of one stack at
// the same time: the stack's mutex keeps them apart, so none of them meets
// the state lock of another.
func TestDriftSerialisedWithPlan(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/drifty/main.tf": driftMain})
	spec := decodeStack(t, a, repo.Tree(), driftBlock, nil)
	req := request("drifty", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))

	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = a.Drift(context.Background(), req, nil)
				// A scan gives way to plans of the stack (driftlock.go).
				if ok, _ := appliers.IsTransient(err); ok && (errors.Is(err, ErrDeployRunning) || errors.Is(err, ErrDriftYielded)) {
					err = nil
				}
			} else {
				_, err = a.Plan(context.Background(), req)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent drift/plan: %v", err)
		}
	}
}

func TestDriftRejects(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/drifty/main.tf": driftMain})
	spec := decodeStack(t, a, repo.Tree(), driftBlock, nil)
	unknown := *spec
	unknown.Unknown = []string{"x"}
	if _, err := a.Drift(context.Background(), request("drifty", "r1", &unknown, repo.Tree()), nil); err == nil {
		t.Error("drift with unknown inputs: no error")
	} else if ok, _ := appliers.IsTransient(err); !ok {
		t.Errorf("drift with unknown inputs: %v, want Transient", err)
	}
	if _, err := NewDecoder().Drift(context.Background(), request("drifty", "r1", spec, repo.Tree()), nil); err == nil {
		t.Error("decoder-only applier ran a drift check")
	}
	if _, err := a.Drift(context.Background(), appliers.Request{Repo: "platform", App: "drifty", Spec: spec}, nil); !appliers.IsStalled(err) {
		t.Errorf("drift without a tree: %v, want Stalled", err)
	}
}

// BenchmarkDrift measures drift checks of the terraform_data stack: clean
// (one plan) and drifted (plan and show).
func BenchmarkDrift(b *testing.B) {
	a := newTestApplier(b, nil)
	repo := newRepo(b, map[string]string{"infra/drifty/main.tf": driftMain})
	spec := decodeStack(b, a, repo.Tree(), driftBlock, nil)
	req := request("drifty", "r1", spec, repo.Tree())
	mustApply(b, a, req, mustPlan(b, a, req))
	for _, bc := range []struct {
		name  string
		items int
	}{{"clean", 0}, {"drifted", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				r, err := a.Drift(context.Background(), req, nil)
				if err != nil || len(r.Items) != bc.items {
					b.Fatalf("Drift = %+v, %v; want %d items", r, err, bc.items)
				}
			}
		})
		if bc.items == 0 {
			editState(b, a, "drifty", "infra/drifty", map[string]any{"a": "edited-outside"})
		}
	}
}
