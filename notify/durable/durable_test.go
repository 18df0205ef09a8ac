package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

const durableName = "kit-test"

var allEvents = []string{notify.SubjectPrefix + ".>"}

// kit is a stream with consumers of the kit on it.
type kit struct {
	t    *testing.T
	js   jetstream.JetStream
	logs *testenv.LogBuffer
}

func newKit(t *testing.T) *kit {
	t.Helper()
	_, js := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	return &kit{t: t, js: js, logs: &testenv.LogBuffer{}}
}

// config is a test configuration: short pulls and waits, JSON logs
// narrowed with component=kit (the kit must not add a key twice).
func (k *kit) config(h Handler) Config {
	return Config{
		Name: "kit test", Durable: durableName, Description: "durable kit test",
		Subjects: allEvents, AckWait: 30 * time.Second, Handle: h,
		Backoff:   func(int) time.Duration { return 20 * time.Millisecond },
		FetchWait: 100 * time.Millisecond,
		Log:       slog.New(slog.NewJSONHandler(k.logs, nil)).With("component", "kit"),
	}
}

// start runs a consumer of cfg until the test ends; stop waits for Run.
func (k *kit) start(js jetstream.JetStream, cfg Config) (stop func()) {
	k.t.Helper()
	c, err := New(js, cfg)
	if err != nil {
		k.t.Fatal(err)
	}
	return testenv.Run(k.t, c.Run)
}

// publish stores events with the given deploy ids; it returns their ids.
func (k *kit) publish(deployIDs ...string) []string {
	k.t.Helper()
	var ids []string
	for _, d := range deployIDs {
		ev := notify.New("test", notify.CatDeploy, notify.ActStarted, notify.Data{Repo: "platform", App: "web", DeployID: d})
		b, err := json.Marshal(ev)
		if err != nil {
			k.t.Fatal(err)
		}
		if _, err := k.js.Publish(k.t.Context(), ev.NATSSubject(), b, jetstream.WithMsgID(ev.ID)); err != nil {
			k.t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

// drained waits until the durable settled every message of the stream.
func (k *kit) drained() *jetstream.ConsumerInfo {
	k.t.Helper()
	var info *jetstream.ConsumerInfo
	waitFor(k.t, "consumer drained", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := k.js.Stream(ctx, notify.Stream)
		if err != nil {
			return false
		}
		c, err := k.js.Consumer(ctx, notify.Stream, durableName)
		if err != nil {
			return false
		}
		info, err = c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= st.CachedInfo().State.LastSeq &&
			info.NumPending == 0 && info.NumAckPending == 0
	})
	return info
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deployID(m *Msg) string {
	var ev notify.Event
	_ = json.Unmarshal(m.Data(), &ev)
	return ev.Data.DeployID
}

// logLines returns the kit's log lines whose msg is msg.
func (k *kit) logLines(msg string) []map[string]any {
	k.t.Helper()
	if bad := testenv.CheckJSONLines(k.logs.String()); len(bad) > 0 {
		k.t.Errorf("bad log lines: %v", bad)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(k.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// A plain handler error is retried after the policy's Backoff of the
// attempt, with a log line; Retry(err, d) is retried after d, silently;
// the event is acked once handled and the next comes only then.
func TestHandlerErrorRetriedWithDelay(t *testing.T) {
	k := newKit(t)
	var mu sync.Mutex
	seen := map[string][]time.Time{}
	var order []string
	cfg := k.config(func(_ context.Context, m *Msg) error {
		mu.Lock()
		defer mu.Unlock()
		id := deployID(m)
		seen[id] = append(seen[id], time.Now())
		order = append(order, fmt.Sprintf("%s#%d", id, m.Attempt))
		switch {
		case id == "plain" && m.Attempt < 3:
			return errors.New("forge answered 502 for token s3cr3t")
		case id == "exact" && m.Attempt < 2:
			return Retry(errors.New("rate limited"), 300*time.Millisecond)
		}
		return nil
	})
	cfg.Retry.Backoff = func(attempt int) time.Duration { return time.Duration(attempt) * 200 * time.Millisecond }
	cfg.Scrub = func(s string) string { return strings.ReplaceAll(s, "s3cr3t", "[redacted]") }
	k.publish("plain", "exact")
	k.start(k.js, cfg)
	info := k.drained()

	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(order, " "); got != "plain#1 plain#2 plain#3 exact#1 exact#2" {
		t.Errorf("handled %s, want plain three times then exact twice, in order", got)
	}
	if p := seen["plain"]; len(p) == 3 {
		if d := p[1].Sub(p[0]); d < 200*time.Millisecond {
			t.Errorf("second delivery after %v, want ≥ Backoff(1) = 200ms", d)
		}
		if d := p[2].Sub(p[1]); d < 400*time.Millisecond {
			t.Errorf("third delivery after %v, want ≥ Backoff(2) = 400ms", d)
		}
	}
	if e := seen["exact"]; len(e) == 2 {
		if d := e[1].Sub(e[0]); d < 300*time.Millisecond {
			t.Errorf("Retry(err, 300ms) redelivered after %v", d)
		}
	}
	if info.NumRedelivered != 0 || info.AckFloor.Stream != 2 {
		t.Errorf("consumer info: %+v, want both acked", info)
	}
	lines := k.logLines("kit test: will retry")
	if len(lines) != 2 {
		t.Fatalf("%d 'will retry' lines, want 2 (Retry is silent):\n%s", len(lines), k.logs.String())
	}
	if lines[0]["attempt"] != 1.0 || lines[0]["retry_in"] != float64(200*time.Millisecond) ||
		lines[0]["err"] != "forge answered 502 for token [redacted]" || lines[0]["component"] != "kit" {
		t.Errorf("first retry line: %v", lines[0])
	}
	if strings.Contains(k.logs.String(), "s3cr3t") {
		t.Error("an error was logged unscrubbed")
	}
}

// An error Policy.Permanent recognises is dropped at the first delivery
// with a log line, Drop(err) silently, and an error that keeps failing
// after MaxAttempts deliveries; the events behind them go through.
func TestPermanentErrorDropped(t *testing.T) {
	k := newKit(t)
	errBad := errors.New("422 no such ref")
	var mu sync.Mutex
	count := map[string]int{}
	cfg := k.config(func(_ context.Context, m *Msg) error {
		mu.Lock()
		defer mu.Unlock()
		id := deployID(m)
		count[id]++
		m.Log = m.Log.With("deploy_id", id)
		switch id {
		case "permanent":
			return fmt.Errorf("create deployment: %w", errBad)
		case "drop":
			return Drop(errors.New("not an event"))
		case "flaky":
			return errors.New("timeout")
		}
		return nil
	})
	cfg.Retry = Policy{Permanent: func(err error) bool { return errors.Is(err, errBad) }, MaxAttempts: 3}
	k.publish("permanent", "drop", "flaky", "ok")
	k.start(k.js, cfg)
	k.drained()

	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"permanent": 1, "drop": 1, "flaky": 3, "ok": 1}
	for id, n := range want {
		if count[id] != n {
			t.Errorf("%s handled %d times, want %d", id, count[id], n)
		}
	}
	dropped := k.logLines("kit test: this event cannot succeed; dropping it")
	if len(dropped) != 1 || dropped[0]["deploy_id"] != "permanent" || dropped[0]["level"] != "ERROR" ||
		dropped[0]["err"] != "create deployment: 422 no such ref" {
		t.Errorf("drop lines: %v", dropped)
	}
	gaveUp := k.logLines("kit test: giving up on this event")
	if len(gaveUp) != 1 || gaveUp[0]["deploy_id"] != "flaky" || gaveUp[0]["attempts"] != 3.0 {
		t.Errorf("give-up lines: %v", gaveUp)
	}
	if n := len(k.logLines("kit test: will retry")); n != 2 {
		t.Errorf("%d retry lines for flaky, want 2", n)
	}
	if strings.Contains(k.logs.String(), "not an event") {
		t.Error("Drop(err) was logged by the kit")
	}
}

// Two consumers on one durable (two replicas) handle every event once
// between them, never two at once, and both take part.
func TestTwoConsumersShareOneDurable(t *testing.T) {
	k := newKit(t)
	var mu sync.Mutex
	count := map[string]int{}
	by := map[string]int{}
	var inFlight, maxInFlight atomic.Int32
	handler := func(replica string) Handler {
		return func(_ context.Context, m *Msg) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for cur := maxInFlight.Load(); n > cur && !maxInFlight.CompareAndSwap(cur, n); cur = maxInFlight.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			count[deployID(m)]++
			by[replica]++
			return nil
		}
	}
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("d%02d", i))
	}
	k.publish(ids...)
	k.start(k.js, k.config(handler("a")))
	k.start(otherConnection(t, k.js), k.config(handler("b")))
	info := k.drained()
	if c := info.Config; c.AckPolicy != jetstream.AckExplicitPolicy || c.MaxAckPending != 1 || c.MaxDeliver != -1 ||
		c.DeliverPolicy != jetstream.DeliverAllPolicy || c.FilterSubject != allEvents[0] || c.AckWait != 30*time.Second {
		t.Errorf("consumer config: %+v", c)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("%s handled %d times, want once", id, count[id])
		}
	}
	if maxInFlight.Load() != 1 {
		t.Errorf("%d events in hand at once, want 1 (MaxAckPending 1)", maxInFlight.Load())
	}
	if by["a"] == 0 || by["b"] == 0 {
		t.Logf("one replica handled everything (a=%d b=%d): allowed, but the pulls did not interleave", by["a"], by["b"])
	}
	if n := len(k.logLines("kit test started")); n != 2 {
		t.Errorf("%d started lines, want 2", n)
	}
}

// otherConnection is a second client connection to js's server, as a
// second replica has.
func otherConnection(t *testing.T, js jetstream.JetStream) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(js.Conn().ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js2, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js2
}

// Setup waits, with a log line per attempt, for a server whose JetStream
// is enabled late and whose stream is created later still; then it takes
// the events. The bucket is opened at setup and handed to the handler.
func TestSetupWaitsForLateJetStream(t *testing.T) {
	dir := t.TempDir()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	k := &kit{t: t, js: js, logs: &testenv.LogBuffer{}}
	got := make(chan string, 1)
	cfg := k.config(func(ctx context.Context, m *Msg) error {
		if _, err := m.KV.PutString(ctx, "seen", deployID(m)); err != nil {
			return err
		}
		got <- deployID(m)
		return nil
	})
	cfg.Bucket = &Bucket{Name: "KIT_TEST", Description: "kit test records", TTL: time.Hour}
	k.start(js, cfg)

	waitFor(t, "a wait for JetStream", func() bool { return len(k.logLines("kit test: waiting for JetStream")) >= 2 })
	if err := ns.EnableJetStream(&server.JetStreamConfig{StoreDir: dir}); err != nil {
		t.Fatal(err)
	}
	n := len(k.logLines("kit test: waiting for JetStream"))
	waitFor(t, "waits for the stream", func() bool { return len(k.logLines("kit test: waiting for JetStream")) > n+1 })
	if len(k.logLines("kit test started")) != 0 {
		t.Fatal("started before the stream exists")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	k.publish("late")
	select {
	case id := <-got:
		if id != "late" {
			t.Errorf("handled %q", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the event was not handled; logs:\n%s", k.logs.String())
	}
	kv, err := js.KeyValue(ctx, "KIT_TEST")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "seen"); err != nil || string(e.Value()) != "late" {
		t.Errorf("KV seen = %v, %v", e, err)
	}
	if st, err := kv.Status(ctx); err != nil || st.TTL() != time.Hour || st.History() != 1 {
		t.Errorf("bucket status: %+v, %v; want TTL 1h, history 1", st, err)
	}
	lines := k.logLines("kit test: waiting for JetStream")
	if lines[0]["attempt"] != 1.0 || lines[1]["attempt"] != 2.0 || lines[0]["err"] == "" {
		t.Errorf("wait lines: %v", lines[:2])
	}
}

// New refuses a configuration that cannot work.
func TestNewChecksConfig(t *testing.T) {
	_, js := testenv.NATS(t)
	ok := Config{Name: "x", Durable: "x", Subjects: allEvents, AckWait: time.Second,
		Handle: func(context.Context, *Msg) error { return nil }}
	for name, edit := range map[string]func(*Config){
		"no name":     func(c *Config) { c.Name = "" },
		"no durable":  func(c *Config) { c.Durable = "" },
		"no subjects": func(c *Config) { c.Subjects = nil },
		"no ack wait": func(c *Config) { c.AckWait = 0 },
		"no handler":  func(c *Config) { c.Handle = nil },
	} {
		c := ok
		edit(&c)
		if _, err := New(js, c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(js, ok); err != nil {
		t.Errorf("a valid config: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	want := map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		6: 32 * time.Second, 7: time.Minute, 100: time.Minute}
	for n, w := range want {
		if got := Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
}

// A consumer may word the policy's lines its own way and log errors
// under another key.
func TestPolicyWording(t *testing.T) {
	k := newKit(t)
	errGone := errors.New("app gone")
	cfg := k.config(func(context.Context, *Msg) error { return errGone })
	cfg.ErrKey = "error"
	cfg.Retry = Policy{Permanent: func(err error) bool { return errors.Is(err, errGone) }, PermanentMsg: "proposal impossible"}
	k.publish("gone")
	k.start(k.js, cfg)
	k.drained()
	lines := k.logLines("proposal impossible")
	if len(lines) != 1 || lines[0]["error"] != "app gone" || lines[0]["err"] != nil {
		t.Errorf("lines: %v\n%s", lines, k.logs.String())
	}
}

// An event in hand when Run's context ends is handed back at once: the
// next consumer on the durable gets it without waiting AckWait (30 s
// here) or a back-off, and Run returns.
func TestShutdownHandsEventBack(t *testing.T) {
	k := newKit(t)
	inHand := make(chan struct{})
	first := k.config(func(ctx context.Context, _ *Msg) error {
		close(inHand)
		<-ctx.Done()
		return ctx.Err()
	})
	first.Retry.Backoff = func(int) time.Duration { return time.Hour }
	k.publish("d1")
	stop := k.start(k.js, first)
	select {
	case <-inHand:
	case <-time.After(10 * time.Second):
		t.Fatal("the event never reached the first consumer")
	}
	stop()
	got := make(chan int, 1)
	k.start(k.js, k.config(func(_ context.Context, m *Msg) error {
		got <- m.Attempt
		return nil
	}))
	select {
	case n := <-got:
		if n != 2 {
			t.Errorf("second consumer got delivery %d, want 2", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event was not handed back (waiting for AckWait or a back-off?)")
	}
	if n := len(k.logLines("kit test: will retry")); n != 0 {
		t.Errorf("%d retry lines for a shutdown", n)
	}
}
