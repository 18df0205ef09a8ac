package reconciler

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/terraform"
	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// benchStacks is the number of stacks of BenchmarkHundredStacks.
const benchStacks = 100

func benchStackName(i int) string { return fmt.Sprintf("s%03d", i) }

// benchStackTF is the main.tf of stack i at generation gen: even stacks take
// their input from a variable set in the manifest, odd ones a literal.
func benchStackTF(i, gen int) string {
	if i%2 == 0 {
		return fmt.Sprintf("variable \"x\" {\n  type = string\n}\n\nresource \"terraform_data\" \"r\" {\n  input = \"${var.x}/gen%d\"\n}\n", gen)
	}
	return fmt.Sprintf("resource \"terraform_data\" \"r\" {\n  input = \"%s/gen%d\"\n}\n", benchStackName(i), gen)
}

func benchStacksHCL() string {
	var b strings.Builder
	for i := range benchStacks {
		n := benchStackName(i)
		fmt.Fprintf(&b, "stack %q {\n  path = \"infra/%s\"\n", n, n)
		if i%2 == 0 {
			fmt.Fprintf(&b, "  vars = { x = %q }\n", n)
		}
		b.WriteString("}\n\n")
	}
	return b.String()
}

// BenchmarkHundredStacks is issue 2's benchmark: a real Git repository
// with 100 terraform_data stacks, deployed once (not timed); then each
// iteration commits a change to one stack's main.tf and times the SyncOnce
// that sees it: poll, load of the 100 manifests, change detection, plan
// and apply of that one stack, deploy.succeeded.
//
// Metrics: stacks-planned/op (goal 1); ratio-to-by-hand, the mean SyncOnce
// wall time over the mean time of the same Terraform work run by hand with
// the CLI in an initialised directory of one stack (plan -out, show -json,
// apply of the plan), measured interleaved with the SyncOnce runs so that
// the machine's load affects both alike (goal ≤ 1.2); sync-ms/op and
// by-hand-ms/op, the two means; the split of sync-ms/op: applier-ms/op
// (the Terraform applier's Plan and Apply: its work-dir sync and the
// plan, show -json and apply runs) and controller-ms/op (everything else:
// poll, load of the 100 manifests, change detection, state), of which
// poll-ms/op is the Git poll (ref listing, fetch); rss-MB, the
// controller's resident memory (this process: Terraform runs in children)
// with the 100 stacks loaded and deployed.
func BenchmarkHundredStacks(b *testing.B) {
	tfBin := testenv.TerraformBinary(b)
	ctx := context.Background()

	g := testenv.NewGitRepo(b)
	g.Write("deploy/stacks.hcl", benchStacksHCL())
	for i := range benchStacks {
		g.Write("infra/"+benchStackName(i)+"/main.tf", benchStackTF(i, 0))
	}
	g.Commit("100 stacks")

	tmp := b.TempDir()
	repo, err := sources.Open(ctx, sources.Config{Name: "bench", URL: g.URL(), Dir: filepath.Join(tmp, "git")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	src := &timedSource{Repo: repo}
	tfa, err := terraform.New(terraform.Config{Binary: tfBin, WorkDir: filepath.Join(tmp, "terraform"),
		PluginCache: filepath.Join(tmp, "plugin-cache"), BaseEnv: os.Environ()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tf := &timedApplier{Applier: tfa}
	m := metrics.New(prometheus.NewRegistry())
	ev := &eventLog{}
	ctrl, err := New(Options{Instance: "bench", Loader: manifest.New(tf), Store: state.NewMemStore(), Events: ev,
		Metrics: m, MaxParallel: 4}, []Repo{{Name: "bench", URL: g.URL(), Path: "deploy", Source: src}})
	if err != nil {
		b.Fatal(err)
	}
	planned := func() float64 { return testutil.ToFloat64(m.StacksPlanned.WithLabelValues("bench", "stack")) }

	start := time.Now()
	if err := ctrl.SyncOnce(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	if n := countEvents(ev, "deploy.succeeded"); n != benchStacks {
		b.Fatalf("first sync: %d deploy.succeeded, want %d; events: %v", n, benchStacks, ev.types(0))
	}
	b.Logf("first deploy of %d stacks: %s", benchStacks, time.Since(start).Round(time.Millisecond))
	rss := vmRSS(b)

	hand := newByHand(b, tfBin)
	hand.run(b, 0) // warm up: the first runs pay for the page cache

	var syncTime, handTime time.Duration
	var plans float64
	src.total, tf.total = 0, 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		k := (i*37 + 11) % benchStacks // a different stack each time
		app := benchStackName(k)
		g.Write("infra/"+app+"/main.tf", benchStackTF(k, i+1))
		sha := g.Commit(fmt.Sprintf("Change %s (#%d)", app, i+1))
		before, evs := planned(), ev.len()
		b.StartTimer()

		t0 := time.Now()
		if err := ctrl.SyncOnce(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		syncTime += time.Since(t0)

		b.StopTimer()
		plans += planned() - before
		if e := ev.find("deploy.succeeded", app); e == nil || e.Data.Revision != sha {
			b.Fatalf("no deploy.succeeded of %s at %.7s; events: %v", app, sha, ev.types(evs))
		}
		handTime += hand.run(b, i+1)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(plans/n, "stacks-planned/op")
	b.ReportMetric(float64(syncTime)/float64(handTime), "ratio-to-by-hand")
	b.ReportMetric(float64(syncTime.Milliseconds())/n, "sync-ms/op")
	b.ReportMetric(float64(src.total.Milliseconds())/n, "poll-ms/op")
	b.ReportMetric(float64(tf.total.Milliseconds())/n, "applier-ms/op")
	b.ReportMetric(float64((syncTime-tf.total).Milliseconds())/n, "controller-ms/op")
	b.ReportMetric(float64(handTime.Milliseconds())/n, "by-hand-ms/op")
	b.ReportMetric(rss, "rss-MB")
}

// timedSource is the real Git source, timing Poll and Pull (list refs,
// fetch when moved, read the commit).
type timedSource struct {
	*sources.Repo
	total time.Duration // read after SyncOnce returned only
}

func (s *timedSource) Poll(ctx context.Context) (*sources.Revision, bool, error) {
	t0 := time.Now()
	defer func() { s.total += time.Since(t0) }()
	return s.Repo.Poll(ctx)
}

// Pull is timed as Poll is (SyncOnce pulls: list and fetch in one session).
func (s *timedSource) Pull(ctx context.Context) (*sources.Revision, bool, error) {
	t0 := time.Now()
	defer func() { s.total += time.Since(t0) }()
	return s.Repo.Pull(ctx)
}

// timedApplier is the real Terraform applier, timing Plan and Apply (which
// run one at a time in this benchmark: one stack changes per commit).
type timedApplier struct {
	*terraform.Applier
	mu    sync.Mutex
	total time.Duration
}

func (a *timedApplier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	t0 := time.Now()
	defer a.add(t0)
	return a.Applier.Plan(ctx, req)
}

func (a *timedApplier) Apply(ctx context.Context, req appliers.Request, p *appliers.Plan) (*appliers.Result, error) {
	t0 := time.Now()
	defer a.add(t0)
	return a.Applier.Apply(ctx, req, p)
}

func (a *timedApplier) add(t0 time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total += time.Since(t0)
}

func countEvents(r *eventLog, typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Category()+"."+e.Action() == typ {
			n++
		}
	}
	return n
}

// vmRSS is this process's resident set size in MB (VmRSS of
// /proc/self/status).
func vmRSS(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// byHand is the baseline of BenchmarkHundredStacks: one stack's directory,
// initialised once, driven with the Terraform CLI.
type byHand struct {
	bin, dir string
	env      []string
}

func newByHand(b *testing.B, bin string) *byHand {
	dir := b.TempDir()
	rc := filepath.Join(b.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	h := &byHand{bin: bin, dir: dir, env: append(env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")}
	h.write(b, 0)
	h.terraform(b, "init", "-input=false", "-no-color")
	h.terraform(b, "apply", "-input=false", "-no-color", "-auto-approve")
	return h
}

// benchByHandStack is the stack of the baseline: a literal input, like
// the odd stacks.
const benchByHandStack = 1

func (h *byHand) write(b *testing.B, gen int) {
	if err := os.WriteFile(filepath.Join(h.dir, "main.tf"), []byte(benchStackTF(benchByHandStack, gen)), 0o644); err != nil {
		b.Fatal(err)
	}
}

// run changes main.tf (not timed) and returns the time of plan -out, show
// -json and apply of the saved plan.
func (h *byHand) run(b *testing.B, gen int) time.Duration {
	h.write(b, 1000+gen) // never a generation the previous run applied
	t0 := time.Now()
	h.terraform(b, "plan", "-out=p", "-input=false", "-no-color")
	out := h.terraform(b, "show", "-json", "p")
	h.terraform(b, "apply", "-input=false", "-no-color", "p")
	d := time.Since(t0)
	if !bytes.Contains(out, []byte(`"update"`)) && !bytes.Contains(out, []byte(`"create"`)) {
		b.Fatalf("by hand: the plan has no change:\n%s", out)
	}
	return d
}

func (h *byHand) terraform(b *testing.B, args ...string) []byte {
	cmd := exec.Command(h.bin, args...)
	cmd.Dir, cmd.Env = h.dir, h.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("terraform %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}
