package preview

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/forge"
)

const benchStacks = 100

func benchStackTF(v string) string {
	return "resource \"terraform_data\" \"x\" {\n  input = \"" + v + "\"\n}\n\noutput \"v\" {\n  value = terraform_data.x.output\n}\n"
}

// newBenchHarness is a repo of 100 terraform_data stacks, stack s042
// deployed through the applier's deploy path (the others need no state:
// a preview of a pull request touching s042 plans s042 alone).
func newBenchHarness(b *testing.B) *harness {
	files := map[string]string{}
	var hcl strings.Builder
	for i := range benchStacks {
		name := fmt.Sprintf("s%03d", i)
		fmt.Fprintf(&hcl, "stack %q {\n  path = \"infra/%s\"\n}\n\n", name, name)
		files["infra/"+name+"/main.tf"] = benchStackTF("v0")
	}
	files["deploy/stacks.hcl"] = hcl.String()
	h := newHarness(b, files, harnessOpts{})
	ctx := context.Background()
	rev, err := h.src.Revision(ctx, "main")
	if err != nil {
		b.Fatal(err)
	}
	d, diags := h.loader.Load("infra", rev.Tree, "deploy")
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	req := appliers.Request{Repo: "infra", App: "s042", Revision: rev.SHA, Spec: d.Apps["s042"].Spec, Tree: rev.Tree, DeployID: "d", Observer: appliers.NopObserver{}}
	p, err := h.tf.Plan(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.tf.Apply(ctx, req, p); err != nil {
		b.Fatal(err)
	}
	return h
}

// bareTerraform is Terraform run by hand on the stack, as a CI job would
// for the same comment: a fresh directory holding the stack's code and a
// copy of its state, then init, plan -lock=false -out, show -json.
type bareTerraform struct {
	b     *testing.B
	bin   string
	env   []string
	state []byte
	dir   string
}

func newBare(b *testing.B, h *harness) *bareTerraform {
	st, err := os.ReadFile(filepath.Join(h.stateDir, "terraform", "infra", "s042", "src", "infra", "s042", "terraform.tfstate"))
	if err != nil {
		b.Fatal(err)
	}
	bt := &bareTerraform{b: b, bin: h.tfBinary(), state: st, dir: b.TempDir()}
	for k, v := range h.tf.Env() {
		bt.env = append(bt.env, k+"="+v)
	}
	bt.env = append(bt.env, "TF_IN_AUTOMATION=1")
	return bt
}

func (bt *bareTerraform) run(i int) time.Duration {
	start := time.Now()
	dir := filepath.Join(bt.dir, fmt.Sprint(i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		bt.b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(benchStackTF(fmt.Sprintf("v%d", i+1))), 0o600); err != nil {
		bt.b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfstate"), bt.state, 0o600); err != nil {
		bt.b.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-input=false", "-no-color"},
		{"plan", "-input=false", "-no-color", "-detailed-exitcode", "-lock=false", "-out=p.tfplan"}, {"show", "-json", "p.tfplan"}} {
		cmd := exec.Command(bt.bin, args...)
		cmd.Dir, cmd.Env = dir, bt.env
		if out, err := cmd.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				bt.b.Fatalf("terraform %v: %v\n%s", args, err, out)
			}
		}
	}
	return time.Since(start)
}

// BenchmarkPreviewOneOfHundred: a push to a pull request touching one of
// 100 stacks, from Handle to the comment and the final status (fetch,
// manifests of 100 stacks, change detection, init and plan of the one
// stack in its own work dir, comment). Each iteration also times the same
// plan by hand (bareTerraform), interleaved, so the ratio is measured under
// the same load.
func BenchmarkPreviewOneOfHundred(b *testing.B) {
	h := newBenchHarness(b)
	bare := newBare(b, h)
	var previewTotal, bareTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sha := h.push(1, map[string]string{"infra/s042/main.tf": benchStackTF(fmt.Sprintf("v%d", i+1))})
		b.StartTimer()
		start := time.Now()
		h.runner.Handle(Request{Repo: "infra", Number: 1, Action: "synchronize", HeadSHA: sha, BaseRef: "main"})
		st := h.forge.waitFinal(b, sha, 5*time.Minute)
		previewTotal += time.Since(start)
		b.StopTimer()
		if st.State != forge.StatusSuccess {
			b.Fatalf("status %+v\n%s", st, h.forge.comment(b, 1))
		}
		if body := h.forge.comment(b, 1); !strings.Contains(body, "#### `s042` (stack) · 0 to add, 1 to change, 0 to destroy") || !strings.Contains(body, "Unchanged (99)") {
			b.Fatalf("comment:\n%s", body)
		}
		bareTotal += bare.run(i)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(bareTotal.Milliseconds())/float64(b.N), "bare-ms/op")
	b.ReportMetric(float64(previewTotal)/float64(bareTotal), "ratio-to-bare")
}

// BenchmarkBareTerraformPlan is bareTerraform alone: the baseline.
func BenchmarkBareTerraformPlan(b *testing.B) {
	h := newBenchHarness(b)
	bare := newBare(b, h)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bare.run(i)
	}
}
