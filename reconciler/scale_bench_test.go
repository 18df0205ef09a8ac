package reconciler

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
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

// scaleRealStacks is how many stacks of BenchmarkStacksAtScale Terraform
// really plans and applies; the commits timed change one of them.
const scaleRealStacks = 4

// scaleIdlePolls is the number of idle polls timed per run.
const scaleIdlePolls = 20

func scaleStackName(i int) string { return fmt.Sprintf("s%04d", i) }

// scaleApplier is the Terraform applier for the first scaleRealStacks
// stacks; every other stack's plan reports no changes at once, as a stack
// whose live state matches its code would (so that 1,000 stacks are
// declared, loaded, decoded and tracked without 1,000 Terraform runs).
type scaleApplier struct {
	*timedApplier
	real map[string]bool
}

func (a *scaleApplier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	if !a.real[req.App] {
		return &appliers.Plan{Changed: false, Summary: "no changes", ID: "seeded:" + req.Revision}, nil
	}
	return a.timedApplier.Plan(ctx, req)
}

// BenchmarkStacksAtScale compares one repository of 10 stacks with one of
// 1,000, side by side in one run, with the real Git source (file://), the
// JetStream KV state store (embedded NATS) and the Terraform applier for
// scaleRealStacks terraform_data stacks; the plans of the other stacks
// report "no changes" without running Terraform (scaleApplier). After the
// first sync (not timed):
//
//   - idle-poll-ms/op: one loop tick on an unchanged branch (ref listing,
//     nothing to reconcile), mean of scaleIdlePolls; idle-kv-ops/op, the
//     state store reads and writes it makes (goal: both the same for 10
//     and 1,000 stacks).
//   - each iteration commits a change to one real stack and times the sync
//     a webhook triggers (Pull, load of every manifest, change detection,
//     plan and apply of that stack): sync-ms/op; an idle poll (the
//     interval's) follows, not timed; by-hand-ms/op, the same
//     Terraform work run by hand (plan -out, show -json, apply), interleaved;
//     ratio-to-by-hand (goal ≤ 1.1; the sync includes the fetch of the
//     commit, the baseline does not); git-pull-ms/op, the `git pull` that
//     a shell loop replacing the controller runs first in its clone, and
//     ratio-to-shell-loop, the sync against pull + plan + show + apply;
//     fetch-ms/op, the controller's Pull (ref listing and fetch of the
//     commit), and ratio-seen-to-by-hand, the sync from the commit fetched
//     ("commit seen") to deploy.succeeded against the baseline;
//     controller-ms/op, sync minus the applier; stacks-planned/op (goal 1); kv-writes/op, the state store
//     writes per commit (goal: the same for 10 and 1,000 stacks);
//     kv-reads/op, its reads (an app nothing touched is not read).
//   - rss-MB: this process's resident memory after the first sync and a GC
//     (the controller, its Git objects and the embedded NATS; Terraform
//     runs in children). Goal for 1,000 stacks: < 150.
func BenchmarkStacksAtScale(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("stacks=%d", n), func(b *testing.B) { benchStacksAtScale(b, n) })
	}
}

func benchStacksAtScale(b *testing.B, n int) {
	tfBin := testenv.TerraformBinary(b)
	ctx := context.Background()
	g := testenv.NewGitRepo(b)
	var hcl strings.Builder
	for i := range n {
		name := scaleStackName(i)
		fmt.Fprintf(&hcl, "stack %q {\n  path = \"infra/%s\"\n}\n\n", name, name)
		g.Write("infra/"+name+"/main.tf", benchStackTF(1, i))
	}
	g.Write("deploy/stacks.hcl", hcl.String())
	g.Commit(fmt.Sprintf("%d stacks", n))

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
	tf := &scaleApplier{timedApplier: &timedApplier{Applier: tfa}, real: map[string]bool{}}
	for i := range scaleRealStacks {
		tf.real[scaleStackName(i)] = true
	}
	_, js := testenv.NATS(b)
	kvs, err := state.OpenKVStore(ctx, js, 1)
	if err != nil {
		b.Fatal(err)
	}
	store := &countingStore{Store: kvs}
	m := metrics.New(prometheus.NewRegistry())
	ev := &eventLog{}
	ctrl, err := New(Options{Instance: "bench", Loader: manifest.New(tf), Store: store, Events: ev, Metrics: m, MaxParallel: 4},
		[]Repo{{Name: "bench", URL: g.URL(), Path: "deploy", Interval: time.Minute, Source: src}})
	if err != nil {
		b.Fatal(err)
	}
	rs := ctrl.repos["bench"]
	planned := func() float64 { return testutil.ToFloat64(m.StacksPlanned.WithLabelValues("bench", "stack")) }

	if err := ctrl.syncSafely(ctx, rs, true); err != nil {
		b.Fatal(err)
	}
	if got := countEvents(ev, "deploy.succeeded"); got != scaleRealStacks {
		b.Fatalf("first sync: %d deploy.succeeded, want %d; events: %v", got, scaleRealStacks, ev.types(0))
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss := vmRSS(b)

	// Idle polls, as the loop's timer runs them.
	r0, w0 := store.reads.Load(), store.writes.Load()
	t0 := time.Now()
	for range scaleIdlePolls {
		if err := ctrl.syncSafely(ctx, rs, false); err != nil {
			b.Fatal(err)
		}
	}
	idle := time.Since(t0) / scaleIdlePolls
	idleOps := float64(store.reads.Load()-r0+store.writes.Load()-w0) / scaleIdlePolls

	hand := newByHand(b, tfBin)
	hand.run(b, 0) // warm up
	loop := newShellLoop(b, g.URL())
	var syncTime, handTime, pullTime, fetchTime time.Duration
	var plans float64
	var writes, reads int64
	tf.total = 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		k := i % scaleRealStacks
		app := scaleStackName(k)
		g.Write("infra/"+app+"/main.tf", benchStackTF(1, 1000*(i+1)+k))
		sha := g.Commit(fmt.Sprintf("Change %s (#%d)", app, i+1))
		before, evs, w, rd := planned(), ev.len(), store.writes.Load(), store.reads.Load()
		b.StartTimer()

		t, pulls := time.Now(), src.total
		if err := ctrl.syncSafely(ctx, rs, true); err != nil {
			b.Fatal(err)
		}
		syncTime += time.Since(t)

		b.StopTimer()
		fetchTime += src.total - pulls
		plans += planned() - before
		writes += store.writes.Load() - w
		reads += store.reads.Load() - rd
		// The interval's poll before the next commit (the daemon polls
		// every interval, webhooks or not): it finds the branch
		// unchanged, and is when the Git source merges its small packs.
		if err := ctrl.syncSafely(ctx, rs, false); err != nil {
			b.Fatal(err)
		}
		if e := ev.find("deploy.succeeded", app); e == nil || e.Data.Revision != sha {
			b.Fatalf("no deploy.succeeded of %s at %.7s; events: %v", app, sha, ev.types(evs))
		}
		pullTime += loop.pull(b, sha)
		handTime += hand.run(b, i+1)
		b.StartTimer()
	}
	b.StopTimer()
	iters := float64(b.N)
	b.ReportMetric(float64(idle.Microseconds())/1000, "idle-poll-ms/op")
	b.ReportMetric(idleOps, "idle-kv-ops/op")
	b.ReportMetric(float64(syncTime.Microseconds())/1000/iters, "sync-ms/op")
	b.ReportMetric(float64(handTime.Microseconds())/1000/iters, "by-hand-ms/op")
	b.ReportMetric(float64(syncTime)/float64(handTime), "ratio-to-by-hand")
	b.ReportMetric(float64(fetchTime.Microseconds())/1000/iters, "fetch-ms/op")
	b.ReportMetric(float64(syncTime-fetchTime)/float64(handTime), "ratio-seen-to-by-hand")
	b.ReportMetric(float64(pullTime.Microseconds())/1000/iters, "git-pull-ms/op")
	b.ReportMetric(float64(syncTime)/float64(handTime+pullTime), "ratio-to-shell-loop")
	b.ReportMetric(float64((syncTime-tf.total).Microseconds())/1000/iters, "controller-ms/op")
	b.ReportMetric(plans/iters, "stacks-planned/op")
	b.ReportMetric(float64(writes)/iters, "kv-writes/op")
	b.ReportMetric(float64(reads)/iters, "kv-reads/op")
	b.ReportMetric(rss, "rss-MB")
}

// shellLoop is the Git half of the shell loop a controller replaces: a
// working clone that `git pull`s each new commit before Terraform runs.
type shellLoop struct{ dir string }

func newShellLoop(b *testing.B, url string) *shellLoop {
	l := &shellLoop{dir: filepath.Join(b.TempDir(), "clone")}
	l.git(b, "", "clone", "-q", url, l.dir)
	return l
}

// pull runs `git pull --ff-only` and returns its time; the clone must
// then be at sha.
func (l *shellLoop) pull(b *testing.B, sha string) time.Duration {
	t0 := time.Now()
	l.git(b, l.dir, "pull", "-q", "--ff-only")
	d := time.Since(t0)
	if head := strings.TrimSpace(l.git(b, l.dir, "rev-parse", "HEAD")); head != sha {
		b.Fatalf("git pull: the clone is at %s, want %s", head, sha)
	}
	return d
}

func (l *shellLoop) git(b *testing.B, dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
