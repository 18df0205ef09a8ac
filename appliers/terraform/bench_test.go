package terraform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const benchMain = `variable "x" {
  type = string
}
resource "terraform_data" "r" {
  input = var.x
}
output "x" {
  value = terraform_data.r.output
}
`

// BenchmarkStackDeploy measures one Plan+Apply through the applier of a
// terraform_data stack whose work dir is already initialised (the commit
// changes a var each time).
func BenchmarkStackDeploy(b *testing.B) {
	a := newTestApplier(b, nil)
	repo := newRepo(b, map[string]string{"stacks/s1/main.tf": benchMain})
	deploy := func(i int) {
		spec := decodeStack(b, a, repo.Tree(), "stack \"s1\" {\n  path = \"stacks/s1\"\n  vars = { x = \"v"+strconv.Itoa(i)+"\" }\n}\n", nil)
		req := request("s1", "rev"+strconv.Itoa(i), spec, repo.Tree())
		p := mustPlan(b, a, req)
		if !p.Changed {
			b.Fatalf("plan %d has no changes", i)
		}
		mustApply(b, a, req, p)
	}
	deploy(-1) // init and first apply
	inits := a.Inits()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		deploy(i)
	}
	b.StopTimer()
	if a.Inits() != inits {
		b.Errorf("init ran during the benchmark")
	}
}

// BenchmarkTerraformByHand is the baseline: `terraform plan -out`,
// `show -json`, `apply PLAN` with the CLI in an initialised dir.
func BenchmarkTerraformByHand(b *testing.B) {
	a := newTestApplier(b, nil)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(benchMain), 0o644); err != nil {
		b.Fatal(err)
	}
	var env []string
	for k, v := range a.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "TF_IN_AUTOMATION=1")
	run := func(args ...string) {
		cmd := exec.CommandContext(context.Background(), a.binary, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				b.Fatalf("terraform %v: %v\n%s", args, err, out)
			}
		}
	}
	run("init", "-input=false", "-no-color")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run("plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=p.tfplan", "-var", "x=v"+strconv.Itoa(i))
		run("show", "-json", "p.tfplan")
		run("apply", "-input=false", "-no-color", "-auto-approve", "p.tfplan")
	}
}
