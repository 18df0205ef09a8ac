package reconciler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/internal/natsd"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// The harness of the replica tests (cluster_test.go): a real 3-node
// JetStream cluster, R3 buckets and stream, and Controllers that each have
// their own NATS connection, store, lease client and publisher, as
// cmd/driftless wires them. Only the applier is a fake: the cloud below,
// shared by the replicas as the real cloud would be.

// clusterTrigger is the core NATS subject prefix of triggers (as daemon.go).
const clusterTrigger = "driftless_ctl.trigger."

// clusterTTL is the lease TTL of the replicas under test.
const clusterTTL = 2 * time.Second

// cloud is the live state every replica changes: a fakeStack behind one
// applier per replica (cloudApplier). It records who planned and applied
// what, and any overlap of two applies of one app.
type cloud struct {
	stack *fakeStack
	cost  time.Duration // each apply takes this long

	mu       sync.Mutex
	inflight map[string]map[string]int // app → replica → applies running
	dead     map[string]bool           // crashed replicas: they change nothing any more
	overlaps []string                  // "app: replica a while b" for each concurrent apply
	applies  map[string][]string       // "app@rev" → replicas that completed an apply
	plans    []cloudCall
	outputs  map[string]map[string]appliers.Output
	gates    map[string]*gate // "plan:app" or "apply:app" → the next such call blocks
}

type cloudCall struct {
	replica, app, rev string
	at                time.Time
}

// gate blocks the next plan or apply of one app: reached receives the
// replica that got there, and the call goes on when release is closed (or
// its ctx ends).
type gate struct {
	reached chan string
	release chan struct{}
}

func newCloud() *cloud {
	return &cloud{stack: newFakeStack(), inflight: map[string]map[string]int{}, dead: map[string]bool{},
		applies: map[string][]string{}, outputs: map[string]map[string]appliers.Output{}, gates: map[string]*gate{}}
}

// block makes the next call of kind for app wait: "plan" (before
// planning), "planned" (after planning, before returning the plan) or
// "apply".
func (c *cloud) block(kind, app string) *gate {
	g := &gate{reached: make(chan string, 1), release: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gates[kind+":"+app] = g
	return g
}

func (c *cloud) wait(ctx context.Context, kind, replica, app string) {
	c.mu.Lock()
	g := c.gates[kind+":"+app]
	delete(c.gates, kind+":"+app)
	c.mu.Unlock()
	if g == nil {
		return
	}
	g.reached <- replica
	select {
	case <-g.release:
	case <-ctx.Done():
	}
}

// crash marks replica dead: its applies in progress stop counting (a
// killed process applies nothing) and nothing it does reaches the cloud.
func (c *cloud) crash(replica string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead[replica] = true
	for _, m := range c.inflight {
		delete(m, replica)
	}
}

func (c *cloud) isDead(replica string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead[replica]
}

func (c *cloud) enter(replica, app string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight[app] == nil {
		c.inflight[app] = map[string]int{}
	}
	for other, n := range c.inflight[app] {
		if n > 0 {
			c.overlaps = append(c.overlaps, fmt.Sprintf("%s: %s applied while %s was applying", app, replica, other))
		}
	}
	c.inflight[app][replica]++
}

func (c *cloud) leave(replica, app string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dead[replica] {
		c.inflight[app][replica]--
	}
}

// applied returns "app@rev" → replicas that completed an apply of it.
func (c *cloud) applied() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for k, v := range c.applies {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func (c *cloud) overlapping() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.overlaps...)
}

// plansOf lists the plans of app made by replica since t.
func (c *cloud) plansOf(replica, app string, since time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.plans {
		if (replica == "" || p.replica == replica) && (app == "" || p.app == app) && !p.at.Before(since) {
			n++
		}
	}
	return n
}

// cloudApplier is one replica's view of the cloud.
type cloudApplier struct {
	c       *cloud
	replica string
}

func (a *cloudApplier) Kind() string { return "stack" }

func (a *cloudApplier) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	return a.c.stack.Decode(dc, body)
}

func (a *cloudApplier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	a.c.mu.Lock()
	a.c.plans = append(a.c.plans, cloudCall{replica: a.replica, app: req.App, rev: req.Revision, at: time.Now()})
	a.c.mu.Unlock()
	a.c.wait(ctx, "plan", a.replica, req.App)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p, err := a.c.stack.Plan(ctx, req)
	if err != nil {
		return nil, err
	}
	a.c.wait(ctx, "planned", a.replica, req.App) // the plan is made, not yet applied
	return p, ctx.Err()
}

func (a *cloudApplier) Apply(ctx context.Context, req appliers.Request, p *appliers.Plan) (*appliers.Result, error) {
	a.c.enter(a.replica, req.App)
	defer a.c.leave(a.replica, req.App)
	a.c.wait(ctx, "apply", a.replica, req.App)
	if a.c.cost > 0 {
		time.Sleep(a.c.cost)
	}
	if a.c.isDead(a.replica) {
		return nil, errors.New("the replica crashed")
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res, err := a.c.stack.Apply(ctx, req, p)
	if err != nil {
		return nil, err
	}
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	k := req.App + "@" + req.Revision
	a.c.applies[k] = append(a.c.applies[k], a.replica)
	a.c.outputs[req.App] = res.Outputs
	return res, nil
}

func (a *cloudApplier) Outputs(_ context.Context, req appliers.Request) (map[string]appliers.Output, error) {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	if o, ok := a.c.outputs[req.App]; ok {
		return o, nil
	}
	return map[string]appliers.Output{}, nil
}

// logBuf collects the replicas' logs, shown when a test fails.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clusterEnv is a NATS cluster, one Git source (the fake: "the remote"),
// the cloud, and the replicas started on them.
type clusterEnv struct {
	t      *testing.T
	urls   []string
	stop   func(i int)
	nc     *nats.Conn
	js     jetstream.JetStream
	store  *state.KVStore
	leases *kv.Bucket
	src    *fakeSource            // repo "r"
	extra  map[string]*fakeSource // more repos every replica watches (addRepos)
	cloud  *cloud
	logs   *logBuf
	log    *slog.Logger
	// lost makes every trigger a replica broadcasts vanish, as a core NATS
	// message does when the subscriber's interest has not yet reached the
	// publisher's server.
	lost atomic.Bool
}

func newClusterEnv(t *testing.T) *clusterEnv {
	t.Helper()
	t0 := time.Now()
	urls, stop := testenv.NATSCluster(t, 3)
	logs := &logBuf{}
	e := &clusterEnv{t: t, urls: urls, stop: stop, src: newFakeSource(), cloud: newCloud(), logs: logs,
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica logs:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := natsd.Connect(ctx, strings.Join(urls, ","), "test-admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc, e.js = nc, js
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if e.store, err = state.OpenKVStore(ctx, js, 3); err != nil {
		t.Fatal(err)
	}
	if e.leases, err = OpenLeases(ctx, js, 3); err != nil {
		t.Fatal(err)
	}
	t.Logf("3-node cluster with R3 stream and buckets in %s", time.Since(t0).Round(time.Millisecond))
	return e
}

// replica is one running Controller.
type replica struct {
	name   string
	c      *Controller
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs a replica named name connected to url (one URL or a
// comma-separated list) whose repo "r" polls every interval.
func (e *clusterEnv) start(name, url string, interval time.Duration) *replica {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := e.log.With("instance", name)
	nc, js, err := natsd.Connect(ctx, url, "driftless-"+name, log)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	store, err := state.OpenKVStore(ctx, js, 3)
	if err != nil {
		e.t.Fatal(err)
	}
	leases, err := OpenLeases(ctx, js, 3)
	if err != nil {
		e.t.Fatal(err)
	}
	pub := notify.NewPublisher(js, name, log, nil, notify.WithOutbox(e.t.TempDir(), 0))
	c, err := New(Options{Instance: name, Holder: name, TakeoverGrace: time.Millisecond, Loader: manifest.New(&cloudApplier{c: e.cloud, replica: name}),
		Store: store, Events: pub, MaxParallel: 2, Log: log, Leases: leases, LeaseTTL: clusterTTL,
		Broadcast: func(repo string) {
			if !e.lost.Load() {
				_ = nc.Publish(clusterTrigger+repo, nil)
			}
		}, Connected: nc.IsConnected},
		e.repos(interval))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := nc.Subscribe(clusterTrigger+"*", func(m *nats.Msg) {
		c.Trigger(strings.TrimPrefix(m.Subject, clusterTrigger))
	}); err != nil {
		e.t.Fatal(err)
	}
	r := &replica{name: name, c: c, nc: nc, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = pub.Run(ctx) }()
	go func() {
		defer close(r.done)
		_ = c.Run(ctx)
		wg.Wait()
	}()
	e.t.Cleanup(func() { r.shutdown(e.t) })
	return r
}

// addRepos makes replicas started later watch n more repos, r1…rn, each
// with one stack; it returns their names.
func (e *clusterEnv) addRepos(n int) []string {
	if e.extra == nil {
		e.extra = map[string]*fakeSource{}
	}
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("r%d", i)
		src := newFakeSource()
		src.commit("init", map[string]string{"deploy/x.hcl": "stack \"x\" {\n  path = \"infra/x\"\n}\n", "infra/x/main.tf": "# x"})
		e.extra[name] = src
		names = append(names, name)
	}
	return names
}

func (e *clusterEnv) repos(interval time.Duration) []Repo {
	repos := []Repo{{Name: "r", Path: "deploy", Interval: interval, Source: e.src}}
	names := make([]string, 0, len(e.extra))
	for name := range e.extra {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		repos = append(repos, Repo{Name: name, Path: "deploy", Interval: interval, Source: e.extra[name]})
	}
	return repos
}

// shutdown stops the replica the way the daemon does (leases released).
func (r *replica) shutdown(t *testing.T) {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Errorf("replica %s did not stop", r.name)
	}
	r.nc.Close()
}

// crash kills the replica without any cleanup reaching NATS: its
// connection is closed first (as the kernel does for a killed process), so
// its leases are not released and its deploy stays in flight in the store;
// then its goroutines are stopped, each write they try failing on the
// closed connection. The cloud ignores whatever it does from then on.
func (e *clusterEnv) crash(r *replica) {
	e.cloud.crash(r.name)
	r.nc.Close()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		e.t.Fatalf("crashed replica %s did not stop", r.name)
	}
}

// trigger broadcasts a trigger as a webhook reaching any replica would.
func (e *clusterEnv) trigger() { _ = e.nc.Publish(clusterTrigger+"r", nil) }

// holder is the replica that holds the lease key ("" when free).
func (e *clusterEnv) holder(key string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var v struct {
		Holder string `json:"holder"`
	}
	if _, err := e.leases.Get(ctx, key, &v); err != nil {
		if !errors.Is(err, kv.ErrNotFound) {
			e.t.Logf("reading lease %s: %v", key, err)
		}
		return ""
	}
	return v.Holder
}

// state reads one app's state from the store (zero when unknown), as the
// API shows it (state.RepoState.Current).
func (e *clusterEnv) state(app string) state.AppState {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, _ := e.store.Get(ctx, "r", app)
	m, _ := e.store.Repo(ctx, "r")
	return m.Current(st)
}

func (e *clusterEnv) history(app string) []state.DeployRecord {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := e.store.History(ctx, "r", app)
	if err != nil {
		e.t.Fatalf("history of %s: %v", app, err)
	}
	return h
}

// events reads every event the stream holds.
func (e *clusterEnv) events() []notify.Event {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var evs []notify.Event
	if err := notify.Follow(ctx, e.js, notify.FollowOptions{}, func(ev notify.Event) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		e.t.Fatalf("reading the events: %v", err)
	}
	return evs
}

// eventually polls cond until it holds or timeout passes.
func (e *clusterEnv) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %s: %s", what, timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSynced waits until every app is synced at rev with nothing in flight.
func (e *clusterEnv) waitSynced(timeout time.Duration, rev string, apps ...string) {
	e.t.Helper()
	e.eventually(timeout, "apps synced at "+rev[:7], func() (bool, string) {
		for _, app := range apps {
			st := e.state(app)
			if st.AppliedRevision != rev || st.Status != state.StatusSynced || st.InFlight != nil || st.Forced != "" {
				return false, fmt.Sprintf("%s: status %q applied %.7s in flight %v", app, st.Status, st.AppliedRevision, st.InFlight != nil)
			}
		}
		return true, ""
	})
	// The state is saved first; the deploy's history record and its event
	// follow right after. Wait for them too, so callers can read them.
	e.eventually(timeout, "deploys at "+rev[:7]+" recorded and announced", func() (bool, string) {
		evs := e.events()
		for _, app := range apps {
			d := e.state(app).LastDeploy
			if d == nil || d.Outcome != "succeeded" {
				continue
			}
			if h := e.history(app); len(h) == 0 || h[0].ID != d.ID {
				return false, app + ": history lacks deploy " + d.ID
			}
			found := false
			for _, ev := range evs {
				if ev.Data.DeployID == d.ID && ev.Action() == "succeeded" {
					found = true
					break
				}
			}
			if !found {
				return false, app + ": no succeeded event for deploy " + d.ID
			}
		}
		return true, ""
	})
}

// checkOnce fails on any overlap of applies and on any app@rev applied
// more than once; it returns the applies.
func (e *clusterEnv) checkOnce() map[string][]string {
	e.t.Helper()
	if o := e.cloud.overlapping(); len(o) > 0 {
		e.t.Errorf("concurrent applies of one app: %v", o)
	}
	applied := e.cloud.applied()
	keys := make([]string, 0, len(applied))
	for k := range applied {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(applied[k]) != 1 {
			e.t.Errorf("%s applied %d times (by %v), want once", k, len(applied[k]), applied[k])
		}
	}
	return applied
}

// checkEvents fails when an event id is stored twice, or when a deploy id
// has more than one start or end; it returns the events by type.
func (e *clusterEnv) checkEvents(evs []notify.Event) map[string][]notify.Event {
	e.t.Helper()
	ids := map[string]bool{}
	byType := map[string][]notify.Event{}
	ends := map[string]int{}
	starts := map[string]int{}
	for _, ev := range evs {
		if ids[ev.ID] {
			e.t.Errorf("event %s stored twice", ev.ID)
		}
		ids[ev.ID] = true
		typ := ev.Category() + "." + ev.Action()
		byType[typ] = append(byType[typ], ev)
		if ev.Category() != notify.CatDeploy || ev.Data.DeployID == "" {
			continue
		}
		switch ev.Action() {
		case notify.ActStarted:
			starts[ev.Data.DeployID]++
		case notify.ActSucceeded, notify.ActFailed:
			ends[ev.Data.DeployID]++
		}
	}
	for id, n := range starts {
		if n != 1 || ends[id] != 1 {
			e.t.Errorf("deploy %s: %d deploy.started, %d ends in the stream; want one each", id, n, ends[id])
		}
	}
	return byType
}
