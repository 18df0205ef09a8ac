package reconciler

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/natsd"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// BenchmarkReplicas is issue 6's benchmark: reconcile throughput with 500
// apps on 1 and on 3 replicas, and the memory of each replica.
//
// 500 apps are 10 real Git repositories of 50 stacks each: a repo lease
// gives one repository to one replica, so 500 apps in one repository would
// be reconciled by one replica however many run; ten let three replicas
// share the work. Each replica is a separate process (this test binary
// re-executed as TestBenchReplicaProcess) with its own NATS connection to
// all three nodes of an in-process JetStream cluster (R3 stream, state,
// history and leases), its own clones (go-git) and a fake applier whose
// apply costs benchApplyCost: 500 terraform_data stacks would cost ≈1–2 s
// of Terraform CPU each on this 2-core machine, far beyond a few minutes,
// and what is measured here is the controller and NATS, not Terraform.
//
// Replicas share the repos: each takes at most its fair share (the repos
// divided among the live replicas); the benchmark waits until they do.
// Each iteration commits a change to all 50 stacks of all 10 repositories
// (not timed), broadcasts a trigger per repository as webhooks would, and
// times until the stream holds a deploy.succeeded of each of the 500 apps
// at its new head. Metrics: apps/s; first-deploy-s (the initial deploy of
// the 500 apps); rss-MB, the largest VmRSS of a replica process at the end
// (goal < 150); hwm-MB, the largest VmHWM (peak RSS).
func BenchmarkReplicas(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) { benchReplicas(b, n) })
	}
}

const (
	benchRepos       = 10
	benchAppsPerRepo = 50
	benchApplyCost   = 2 * time.Millisecond
)

func benchAppName(i int) string { return fmt.Sprintf("a%02d", i) }

func benchReplicas(b *testing.B, n int) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		testenv.Unavailable(b, "no /proc to read replicas' RSS")
	}
	urls, _ := testenv.NATSCluster(b, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nc, js, err := natsd.Connect(ctx, strings.Join(urls, ","), "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{Replicas: 3}); err != nil {
		b.Fatal(err)
	}
	if _, err := state.OpenKVStore(ctx, js, 3); err != nil {
		b.Fatal(err)
	}
	if _, err := OpenLeases(ctx, js, 3); err != nil {
		b.Fatal(err)
	}

	repos := make([]*testenv.GitRepo, benchRepos)
	names := make([]string, benchRepos)
	heads := map[string]string{}
	var cfgRepos []benchRepo
	for r := range repos {
		g := testenv.NewGitRepo(b)
		names[r] = fmt.Sprintf("repo%02d", r)
		var hcl strings.Builder
		for i := range benchAppsPerRepo {
			fmt.Fprintf(&hcl, "stack %q {\n  path = \"infra/%s\"\n}\n", benchAppName(i), benchAppName(i))
			g.Write("infra/"+benchAppName(i)+"/main.tf", "# gen 0\n")
		}
		g.Write("deploy/stacks.hcl", hcl.String())
		heads[names[r]] = g.Commit("50 stacks")
		repos[r] = g
		cfgRepos = append(cfgRepos, benchRepo{Name: names[r], URL: g.URL()})
	}

	// Count, from the stream, the apps deployed at their repo's head.
	w := &benchWatch{at: map[string]string{}, wake: make(chan struct{}, 1)}
	go func() {
		_ = notify.Follow(ctx, js, notify.FollowOptions{Subjects: []string{"driftless.deploy.succeeded.>"}, Follow: true},
			func(ev notify.Event) error { w.saw(ev); return nil })
	}()

	t0 := time.Now()
	var procs []*benchProc
	var wg sync.WaitGroup
	for i := range n {
		cfg := benchReplicaConfig{Name: fmt.Sprintf("replica%d", i+1), NATS: strings.Join(urls, ","),
			Repos: cfgRepos, Dir: b.TempDir(), ApplyCost: benchApplyCost}
		p := startBenchProc(b, cfg)
		procs = append(procs, p)
		wg.Add(1)
		go func() { defer wg.Done(); p.waitReady(b) }()
	}
	wg.Wait()
	w.wait(b, heads, 10*time.Minute)
	first := time.Since(t0)
	b.Logf("%d replica(s): first deploy of %d apps in %s; repos per replica: %v", n, benchRepos*benchAppsPerRepo,
		first.Round(time.Millisecond), repoHolders(ctx, b, js))
	// Replicas that started late take their share of the repos after the
	// holders' next syncs (not timed).
	share := (benchRepos + n - 1) / n
	for deadline := time.Now().Add(2 * time.Minute); ; {
		held, most, total := repoHolders(ctx, b, js), 0, 0
		for _, k := range held {
			most, total = max(most, k), total+k
		}
		if most <= share && total == benchRepos {
			b.Logf("repos per replica: %v", held)
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("repos not shared among %d replicas: %v", n, held)
		}
		for _, name := range names {
			_ = nc.Publish(clusterTrigger+name, nil)
		}
		time.Sleep(time.Second)
	}

	// Timed from the first commit: a replica may see a repository's
	// commit before the others are made (a trigger left from balancing).
	var total, commits time.Duration
	b.ResetTimer()
	for it := 1; it <= b.N; it++ {
		t1 := time.Now()
		for r, g := range repos {
			for i := range benchAppsPerRepo {
				g.Write("infra/"+benchAppName(i)+"/main.tf", fmt.Sprintf("# gen %d\n", it))
			}
			heads[names[r]] = g.Commit(fmt.Sprintf("Change every stack (gen %d)", it))
		}
		commits += time.Since(t1)
		for _, name := range names {
			if err := nc.Publish(clusterTrigger+name, nil); err != nil {
				b.Fatal(err)
			}
		}
		w.wait(b, heads, 10*time.Minute)
		total += time.Since(t1)
	}
	b.StopTimer()
	checkHeads(ctx, b, js, heads)
	var rss, hwm float64
	for _, p := range procs {
		r, h := procMemMB(b, p.cmd.Process.Pid)
		b.Logf("%s: VmRSS %.1f MB, VmHWM %.1f MB", p.name, r, h)
		rss, hwm = max(rss, r), max(hwm, h)
	}
	apps := float64(benchRepos * benchAppsPerRepo * b.N)
	b.ReportMetric(apps/total.Seconds(), "apps/s")
	b.ReportMetric(commits.Seconds()/float64(b.N), "commit-s/op")
	b.ReportMetric(first.Seconds(), "first-deploy-s")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(hwm, "hwm-MB")
}

// checkHeads fails unless the store has every app applied at its head.
func checkHeads(ctx context.Context, b *testing.B, js jetstream.JetStream, heads map[string]string) {
	store, err := state.OpenKVStore(ctx, js, 3)
	if err != nil {
		b.Fatal(err)
	}
	states, err := store.List(ctx)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, st := range states {
		m, _ := store.Repo(ctx, st.Repo)
		st = m.Current(st) // as the API shows it
		if st.AppliedRevision == heads[st.Repo] && st.Status == state.StatusSynced {
			n++
		} else {
			b.Errorf("%s/%s: %s at %.7s, head %.7s", st.Repo, st.App, st.Status, st.AppliedRevision, heads[st.Repo])
		}
	}
	if n != len(heads)*benchAppsPerRepo {
		b.Fatalf("%d apps synced at their head in the store, want %d", n, len(heads)*benchAppsPerRepo)
	}
}

// benchWatch tracks the newest revision deployed of each repo/app.
type benchWatch struct {
	mu   sync.Mutex
	at   map[string]string
	wake chan struct{}
}

func (w *benchWatch) saw(ev notify.Event) {
	w.mu.Lock()
	w.at[ev.Data.Repo+"/"+ev.Data.App] = ev.Data.Revision
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wait blocks until every app of every repo was deployed at heads[repo].
func (w *benchWatch) wait(b *testing.B, heads map[string]string, timeout time.Duration) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		done := 0
		for repo, head := range heads {
			for i := range benchAppsPerRepo {
				if w.at[repo+"/"+benchAppName(i)] == head {
					done++
				}
			}
		}
		w.mu.Unlock()
		if done == len(heads)*benchAppsPerRepo {
			return
		}
		select {
		case <-w.wake:
		case <-time.After(time.Second):
		case <-deadline:
			b.Fatalf("only %d of %d apps deployed at their head after %s", done, len(heads)*benchAppsPerRepo, timeout)
		}
	}
}

// repoHolders counts the repo leases each replica holds.
func repoHolders(ctx context.Context, b *testing.B, js jetstream.JetStream) map[string]int {
	leases, err := OpenLeases(ctx, js, 3)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]int{}
	for r := range benchRepos {
		var v struct {
			Holder string `json:"holder"`
		}
		if _, err := leases.Get(ctx, repoLeaseKey(fmt.Sprintf("repo%02d", r)), &v); err == nil {
			out[v.Holder]++
		}
	}
	return out
}

// procMemMB reads VmRSS and VmHWM of pid, in MB.
func procMemMB(b *testing.B, pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		for key, dst := range map[string]*float64{"VmRSS:": &rss, "VmHWM:": &hwm} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				if err != nil {
					b.Fatal(err)
				}
				*dst = kb / 1024
			}
		}
	}
	return rss, hwm
}

// benchReplicaEnv carries a replica process's configuration (JSON).
const benchReplicaEnv = "DRIFTLESS_BENCH_REPLICA"

type benchRepo struct{ Name, URL string }

type benchReplicaConfig struct {
	Name      string
	NATS      string
	Repos     []benchRepo
	Dir       string
	ApplyCost time.Duration
}

type benchProc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startBenchProc(b *testing.B, cfg benchReplicaConfig) *benchProc {
	js, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchReplicaProcess$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), benchReplicaEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close() // the replica stops when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return &benchProc{name: cfg.Name, cmd: cmd, stdin: in, out: bufio.NewScanner(out)}
}

func (p *benchProc) waitReady(b *testing.B) {
	for p.out.Scan() {
		if p.out.Text() == "READY" {
			go func() { // keep draining
				for p.out.Scan() {
				}
			}()
			return
		}
	}
	b.Errorf("replica %s did not start: %v", p.name, p.out.Err())
}

// TestBenchReplicaProcess is not a test: it is a replica process of
// BenchmarkReplicas (skipped otherwise). It runs a Controller wired as
// cmd/driftless does, prints READY, and stops when stdin closes.
func TestBenchReplicaProcess(t *testing.T) {
	raw := os.Getenv(benchReplicaEnv)
	if raw == "" {
		t.Skip("helper process of BenchmarkReplicas")
	}
	var cfg benchReplicaConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: benchLogLevel()})).With("instance", cfg.Name)
	nc, js, err := natsd.Connect(ctx, cfg.NATS, "driftless-"+cfg.Name, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := state.OpenKVStore(ctx, js, 3)
	if err != nil {
		t.Fatal(err)
	}
	leases, err := OpenLeases(ctx, js, 3)
	if err != nil {
		t.Fatal(err)
	}
	pub := notify.NewPublisher(js, cfg.Name, log, nil, notify.WithOutbox(filepath.Join(cfg.Dir, "outbox"), 0))
	var repos []Repo
	for _, r := range cfg.Repos {
		src, err := sources.Open(ctx, sources.Config{Name: r.Name, URL: r.URL, Dir: filepath.Join(cfg.Dir, "git", r.Name)}, log)
		if err != nil {
			t.Fatal(err)
		}
		// A long interval: the benchmark's triggers start each reconcile.
		repos = append(repos, Repo{Name: r.Name, URL: r.URL, Path: "deploy", Interval: time.Minute, Source: src})
	}
	c, err := New(Options{Instance: cfg.Name, Holder: cfg.Name, Loader: manifest.New(&benchStack{fakeStack: newFakeStack(), cost: cfg.ApplyCost}),
		Store: store, Events: pub, MaxParallel: 4, Log: log, Leases: leases, LeaseTTL: 6 * time.Second,
		Broadcast: func(repo string) { _ = nc.Publish(clusterTrigger+repo, nil) }, Connected: nc.IsConnected}, repos)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(clusterTrigger+"*", func(m *nats.Msg) {
		c.Trigger(strings.TrimPrefix(m.Subject, clusterTrigger))
	}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	go func() { _ = pub.Run(ctx) }()
	fmt.Println("READY")
	_ = c.Run(ctx)
}

// benchStack is the fake applier of BenchmarkReplicas: a fakeStack whose
// applies take cost, keeping the live state of each repo's apps apart
// (every repository has apps a00…a49).
type benchStack struct {
	*fakeStack
	cost time.Duration
}

func (s *benchStack) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	req.App = req.Repo + "/" + req.App
	return s.fakeStack.Plan(ctx, req)
}

func (s *benchStack) Apply(ctx context.Context, req appliers.Request, p *appliers.Plan) (*appliers.Result, error) {
	time.Sleep(s.cost)
	req.App = req.Repo + "/" + req.App
	return s.fakeStack.Apply(ctx, req, p)
}

// benchLogLevel is Warn, or Info with DRIFTLESS_BENCH_LOG=info.
func benchLogLevel() slog.Level {
	if os.Getenv("DRIFTLESS_BENCH_LOG") == "info" {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}
