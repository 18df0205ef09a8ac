package terraform

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncStacks is the number of stacks of the initial-sync benchmarks.
const syncStacks = 100

// syncParallel is the reconciler's default max_parallel.
const syncParallel = 4

func syncStackName(i int) string { return fmt.Sprintf("s%03d", i) }

// syncStackTF is stack i's main.tf, as in the reconciler's
// BenchmarkHundredStacks: even stacks take their input from a variable set
// in the manifest, odd ones a literal.
func syncStackTF(i int) string {
	if i%2 == 0 {
		return "variable \"x\" {\n  type = string\n}\n\nresource \"terraform_data\" \"r\" {\n  input = \"${var.x}/gen0\"\n}\n"
	}
	return fmt.Sprintf("resource \"terraform_data\" \"r\" {\n  input = \"%s/gen0\"\n}\n", syncStackName(i))
}

func syncStackBlock(i int) string {
	n := syncStackName(i)
	s := fmt.Sprintf("stack %q {\n  path = \"infra/%s\"\n", n, n)
	if i%2 == 0 {
		s += fmt.Sprintf("  vars = { x = %q }\n", n)
	}
	return s + "}\n"
}

func syncRepo(b *testing.B) *testRepo {
	files := map[string]string{}
	for i := range syncStacks {
		files["infra/"+syncStackName(i)+"/main.tf"] = syncStackTF(i)
	}
	return newRepo(b, files)
}

// BenchmarkInitialSyncHundred is the first sync of 100 terraform_data
// stacks on the local backend through the applier, as the reconciler runs
// it on a fresh state dir: every stack planned then applied, 4 stacks at
// once (max_parallel's default). Each op starts from an empty work dir and
// plugin cache. Its baseline is BenchmarkInitialSyncByHand (scripts/bench.sh
// prints the ratio). tf-runs/stack counts the Terraform processes started.
func BenchmarkInitialSyncHundred(b *testing.B) {
	repo := syncRepo(b)
	ctx := context.Background()
	var runs, inits int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := newTestApplier(b, nil)
		reqs := make(chan int, syncStacks)
		for k := range syncStacks {
			reqs <- k
		}
		close(reqs)
		errs := make(chan error, syncStacks)
		b.StartTimer()
		var wg sync.WaitGroup
		for range syncParallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range reqs {
					spec := decodeStack(b, a, repo.Tree(), syncStackBlock(k), nil)
					req := request(syncStackName(k), "r1", spec, repo.Tree())
					p, err := a.Plan(ctx, req)
					if err == nil && !p.Changed {
						err = fmt.Errorf("plan of %s has no changes", req.App)
					}
					if err == nil {
						_, err = a.Apply(ctx, req, p)
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %w", req.App, err)
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		runs += a.Runs()
		inits += a.Inits()
	}
	b.ReportMetric(float64(runs)/float64(b.N*syncStacks), "tf-runs/stack")
	b.ReportMetric(float64(inits)/float64(b.N*syncStacks), "inits/stack")
}

// BenchmarkInitialSyncByHand is the baseline of BenchmarkInitialSyncHundred:
// the same 100 stacks deployed by a sequential shell-style loop, `terraform
// init` then `terraform apply -auto-approve` in each stack's directory, with
// the applier's environment (CLI config, plugin cache). Each op starts from
// fresh directories.
func BenchmarkInitialSyncByHand(b *testing.B) {
	a := newTestApplier(b, nil)
	var env []string
	for k, v := range a.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "TF_IN_AUTOMATION=1")
	run := func(dir string, args ...string) {
		cmd := exec.Command(a.binary, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
		}
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := b.TempDir()
		dirs := make([]string, syncStacks)
		for k := range syncStacks {
			dirs[k] = filepath.Join(root, syncStackName(k))
			if err := os.MkdirAll(dirs[k], 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dirs[k], "main.tf"), []byte(syncStackTF(k)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		for k, dir := range dirs {
			run(dir, "init", "-input=false", "-no-color")
			args := []string{"apply", "-input=false", "-no-color", "-auto-approve"}
			if k%2 == 0 {
				args = append(args, "-var", "x="+syncStackName(k))
			}
			run(dir, args...)
		}
		b.Logf("by hand: %d stacks in %s", syncStacks, time.Since(start).Round(time.Millisecond))
	}
}
