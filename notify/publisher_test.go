package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/internal/natsd"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

func pubCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pubStream(t *testing.T, ctx context.Context, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	s, err := notify.EnsureStream(ctx, js, notify.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEnsureStreamIdempotent(t *testing.T) {
	ctx := pubCtx(t)
	_, js := testenv.NATS(t)
	for range 2 {
		s := pubStream(t, ctx, js)
		cfg := s.CachedInfo().Config
		if cfg.Name != notify.Stream || !slices.Equal(cfg.Subjects, []string{"driftless.>"}) ||
			cfg.Storage != jetstream.FileStorage || cfg.Duplicates < 2*time.Minute ||
			cfg.MaxAge != 30*24*time.Hour || cfg.Replicas != 1 {
			t.Fatalf("stream config = %+v", cfg)
		}
	}
	// A changed config is applied to the existing stream.
	s, err := notify.EnsureStream(ctx, js, notify.StreamConfig{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != time.Hour {
		t.Fatalf("MaxAge after update = %s", got)
	}
}

func TestPublishSubjectEnvelopeAndMsgID(t *testing.T) {
	ctx := pubCtx(t)
	_, js := testenv.NATS(t)
	st := pubStream(t, ctx, js)
	m := metrics.New(prometheus.NewRegistry())
	p := notify.NewPublisher(js, "replica-1", nil, m)
	if p.Instance() != "replica-1" {
		t.Fatalf("Instance = %q", p.Instance())
	}

	tests := []struct {
		name, cat, act string
		data           notify.Data
		subject        string
		ceSubject      string
	}{
		{"deploy", notify.CatDeploy, notify.ActSucceeded,
			notify.Data{Repo: "platform", App: "web", Kind: "terraform", Revision: "abc", PreviousRevision: "def",
				Author: "Ann", Message: "ship it", PR: 42, DeployID: "d1", DurationMS: 1200,
				Changes: []appliers.Change{{Address: "aws_s3_bucket.b", Action: "update"}}},
			"driftless.deploy.succeeded.platform.web", "platform/web"},
		{"source", notify.CatSource, notify.ActInvalid,
			notify.Data{Repo: "platform", Diagnostics: []string{"apps.hcl:3:1: bad"}},
			"driftless.source.invalid.platform", "platform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := notify.New(p.Instance(), tt.cat, tt.act, tt.data)
			if err := p.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
			msg, err := st.GetLastMsgForSubject(ctx, tt.subject)
			if err != nil {
				t.Fatalf("no message on %s: %v", tt.subject, err)
			}
			if got := msg.Header.Get(jetstream.MsgIDHeader); got != ev.ID {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, ev.ID)
			}
			var env map[string]any
			if err := json.Unmarshal(msg.Data, &env); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"specversion": "1.0", "id": ev.ID, "source": "driftless/replica-1",
				"type": "io.driftless." + tt.cat + "." + tt.act, "subject": tt.ceSubject,
				"datacontenttype": "application/json",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %v, want %v", k, env[k], v)
				}
			}
			if _, err := time.Parse(time.RFC3339Nano, env["time"].(string)); err != nil {
				t.Errorf("time %v: %v", env["time"], err)
			}
			data, _ := env["data"].(map[string]any)
			for _, k := range []string{"repo", "app", "kind", "revision", "previous_revision", "author",
				"message", "pr", "deploy_id", "changes", "duration_ms", "error"} {
				if _, ok := data[k]; !ok {
					t.Errorf("data.%s missing", k)
				}
			}
		})
	}
	if got := testutil.ToFloat64(m.EventsPublished.WithLabelValues("deploy")); got != 1 {
		t.Errorf("events published (deploy) = %v, want 1", got)
	}
}

func TestPublishDuplicateStoredOnce(t *testing.T) {
	ctx := pubCtx(t)
	_, js := testenv.NATS(t)
	st := pubStream(t, ctx, js)
	p := notify.NewPublisher(js, "r", nil, nil)
	ev := notify.New("r", notify.CatDrift, notify.ActDetected, notify.Data{Repo: "platform", App: "web"})
	for range 3 {
		if err := p.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after 3 publishes of one event, want 1", info.State.Msgs)
	}
}

// TestPublishGivesUpWhenCtxEnds: with no stream, the publish is retried
// (no responders) until the context ends, and the error says so.
func TestPublishGivesUpWhenCtxEnds(t *testing.T) {
	_, js := testenv.NATS(t)
	m := metrics.New(prometheus.NewRegistry())
	p := notify.NewPublisher(js, "r", nil, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := p.Publish(ctx, notify.New("r", notify.CatPlan, notify.ActReady, notify.Data{Repo: "x", App: "y"}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish = %v, want deadline exceeded", err)
	}
	if got := testutil.ToFloat64(m.EventPublishFails); got < 2 {
		t.Errorf("publish failures = %v, want ≥ 2 (retried)", got)
	}
	// Emit without an outbox does not block past its context either.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	ev := p.Emit(ctx2, notify.CatPlan, notify.ActReady, notify.Data{Repo: "x", App: "y"})
	if ev.ID == "" || ev.Type != "io.driftless.plan.ready" {
		t.Fatalf("Emit returned %+v", ev)
	}
}

// outage runs an embedded server that can be stopped and started again on
// the same store and port.
type outage struct {
	t    *testing.T
	dir  string
	port int
	srv  *natsd.Server
}

func newOutage(t *testing.T) *outage {
	o := &outage{t: t, dir: t.TempDir()}
	o.up()
	o.port = o.srv.Port()
	t.Cleanup(func() {
		if o.srv != nil {
			o.srv.Shutdown()
		}
	})
	return o
}

func (o *outage) up() {
	o.t.Helper()
	s, err := natsd.Start(context.Background(), natsd.Options{StoreDir: o.dir, Port: o.port}, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	o.srv = s
}

func (o *outage) down() {
	o.srv.Shutdown()
	o.srv = nil
}

func outboxFiles(t *testing.T, dir string) int {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".json") {
			n++
		}
	}
	return n
}

func streamIDs(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	var ids []string
	err := notify.Follow(ctx, js, notify.FollowOptions{}, func(ev notify.Event) error {
		ids = append(ids, ev.ID)
		return nil
	})
	return ids, err
}

// waitIDs waits (through the client's reconnect) until the stream holds at
// least n events and returns their ids in stream order.
func waitIDs(t *testing.T, ctx context.Context, js jetstream.JetStream, n int) []string {
	t.Helper()
	for {
		ids, err := streamIDs(ctx, js)
		if err == nil && len(ids) >= n {
			return ids
		}
		if ctx.Err() != nil {
			t.Fatalf("stream holds %d events, want %d (last error: %v)", len(ids), n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOutboxSurvivesOutage: with NATS down, Emit returns promptly and the
// events wait on disk; when NATS is back they are published in order, none
// doubled — both by the running publisher and, after a "crash", by a new
// publisher on the same outbox directory.
func TestOutboxSurvivesOutage(t *testing.T) {
	ctx := pubCtx(t)
	o := newOutage(t)
	nc, js, err := natsd.Connect(ctx, o.srv.ClientURL(), "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pubStream(t, ctx, js)
	obDir := t.TempDir()
	m := metrics.New(prometheus.NewRegistry())
	p1 := notify.NewPublisher(js, "r1", nil, m, notify.WithOutbox(obDir, 0), notify.WithEmitTimeout(300*time.Millisecond))
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- p1.Run(runCtx) }()

	var want []string
	emit := func(p *notify.Publisher, i int) {
		t.Helper()
		start := time.Now()
		ev := p.Emit(ctx, notify.CatDeploy, notify.ActStarted, notify.Data{Repo: "platform", App: "web", DeployID: string(rune('a' + i))})
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Emit %d took %s", i, d)
		}
		want = append(want, ev.ID)
	}

	emit(p1, 0) // NATS up: published directly
	if n := outboxFiles(t, obDir); n != 0 {
		t.Fatalf("outbox holds %d events while NATS is up", n)
	}

	o.down()
	emit(p1, 1)
	emit(p1, 2)
	if n := outboxFiles(t, obDir); n != 2 {
		t.Fatalf("outbox holds %d events during the outage, want 2", n)
	}
	if got := testutil.ToFloat64(m.EventOutbox); got != 2 {
		t.Errorf("outbox gauge = %v, want 2", got)
	}
	o.up()
	waitIDs(t, ctx, js, 3)
	emit(p1, 3) // after the drain: direct again

	// Crash: Run stops; events emitted during the next outage stay on disk
	// for the next process.
	stopRun()
	if err := <-runDone; err != nil {
		t.Fatalf("Run = %v", err)
	}
	o.down()
	emit(p1, 4)
	emit(p1, 5)
	o.up()
	p2 := notify.NewPublisher(js, "r2", nil, nil, notify.WithOutbox(obDir, 0))
	go func() { _ = p2.Run(ctx) }()
	waitIDs(t, ctx, js, len(want))
	time.Sleep(200 * time.Millisecond) // anything doubled would land by now
	got := waitIDs(t, ctx, js, len(want))
	if !slices.Equal(got, want) {
		t.Fatalf("stream events = %v\nwant (in order, once each) %v", got, want)
	}
	if n := outboxFiles(t, obDir); n != 0 {
		t.Errorf("outbox still holds %d events", n)
	}
	if got := testutil.ToFloat64(m.EventsDropped); got != 0 {
		t.Errorf("dropped = %v", got)
	}
}

// TestOutboxBound: over maxBytes the oldest queued events are dropped, with
// a metric, and the rest are still delivered in order.
func TestOutboxBound(t *testing.T) {
	ctx := pubCtx(t)
	o := newOutage(t)
	nc, js, err := natsd.Connect(ctx, o.srv.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pubStream(t, ctx, js)
	m := metrics.New(prometheus.NewRegistry())
	obDir := t.TempDir()
	// One event is ≈500 bytes: room for two.
	p := notify.NewPublisher(js, "r", nil, m, notify.WithOutbox(obDir, 1200), notify.WithEmitTimeout(100*time.Millisecond))
	o.down()
	var ids []string
	for i := range 5 {
		ev := p.Emit(ctx, notify.CatDrift, notify.ActDetected, notify.Data{Repo: "platform", App: "web", Revision: strings.Repeat("x", i+1)})
		ids = append(ids, ev.ID)
	}
	if got := testutil.ToFloat64(m.EventsDropped); got != 3 {
		t.Fatalf("dropped = %v, want 3", got)
	}
	o.up()
	go func() { _ = p.Run(ctx) }()
	got := waitIDs(t, ctx, js, 2)
	if !slices.Equal(got, ids[3:]) {
		t.Fatalf("delivered %v, want the newest two %v", got, ids[3:])
	}
}
