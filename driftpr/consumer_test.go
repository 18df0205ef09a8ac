package driftpr

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

// publishDrift publishes a drift.detected event for d, as the reconciler
// does.
func publishDrift(t *testing.T, js jetstream.JetStream, id, repo string, d Drift) {
	t.Helper()
	ev := notify.Event{SpecVersion: "1.0", ID: id, Source: "driftless/test", Type: "io.driftless.drift.detected",
		Subject: repo + "/" + d.App, Time: time.Now().UTC(), DataContentType: "application/json",
		Data: notify.Data{Repo: repo, App: d.App, Revision: d.Revision, FirstSeen: &d.FirstSeen,
			Extra: map[string]string{"fingerprint": d.Fingerprint, "transition": "new"}}}
	for _, it := range d.Items {
		ev.Data.Drift = append(ev.Data.Drift, notify.DriftItem{Address: it.Address, Attributes: it.Attributes, Action: it.Action})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), ev.NATSSubject(), b); err != nil {
		t.Fatal(err)
	}
}

// The daemon's consumer proposes a drift.detected event of a drift_pr
// repo once: two consumers on the same durable (two replicas) and the
// same drift announced again (a reminder) give one pull request and one
// commit; a stale event (the drift changed since) and another repo's are
// skipped.
func TestConsumer(t *testing.T) {
	f := newFixture(t)
	_, js := testenv.NATS(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	ledger, err := OpenKVLedger(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{Loader: f.loader, Forge: f.forge, Ledger: ledger, Scrub: f.p.opt.Scrub})
	f.byHandECS(3, "nginx:1.30")
	d := f.drift("web")
	current := func(_ context.Context, repo, app string) (string, error) {
		if repo == "platform" && app == "web" {
			return d.Fingerprint, nil
		}
		return "", nil
	}
	done := make(chan struct{})
	for range 2 {
		c := NewConsumer(js, p, ConsumerOptions{Repos: map[string]Repo{"platform": f.repo}, Current: current})
		go func() { _ = c.Run(ctx); done <- struct{}{} }()
	}
	publishDrift(t, js, "ev-1", "platform", d)
	publishDrift(t, js, "ev-2", "platform", d) // a reminder of the same drift
	stale := d
	stale.Fingerprint = "0000000000000000"
	publishDrift(t, js, "ev-3", "platform", stale)
	other := d
	other.App = "thumb"
	publishDrift(t, js, "ev-4", "platform", other) // thumb has no open drift now
	publishDrift(t, js, "ev-5", "tools", d)        // no drift_pr

	deadline := time.Now().Add(30 * time.Second)
	for {
		var info *jetstream.ConsumerInfo
		cons, err := js.Consumer(ctx, notify.Stream, DefaultDurable) // created by Run, maybe not yet
		if err == nil {
			info, err = cons.Info(ctx)
		}
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not all handled: %+v, %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	calls := f.forge.Calls()
	if len(calls) != 1 || calls[0] != "pr acme/platform driftless/drift/web->main" {
		t.Errorf("forge calls = %v, want one pull request", calls)
	}
	if n := f.git("rev-list", "--count", "main..driftless/drift/web"); n != "1" {
		t.Errorf("%s commits on the branch, want 1", n)
	}
	if got, _ := ledger.Proposed(ctx, "platform", "web"); !strings.HasPrefix(got, d.key()+" ") || len(got) != len(d.key())+13 {
		t.Errorf("ledger = %q, want %q and the live values' hash", got, d.key())
	}
	if pr, _ := f.forge.PR("driftless/drift/web"); !strings.Contains(pr.Body, `"nginx:1.30"`) {
		t.Errorf("body:\n%s", pr.Body)
	}
	cancel()
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("consumer did not stop")
		}
	}
}

// A forge failure after the push is retried: the retry opens the pull
// request without a second commit. An event for an app no longer declared
// is dropped at once, and does not hold the events after it.
func TestConsumerRetries(t *testing.T) {
	f := newFixture(t)
	_, js := testenv.NATS(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	ledger, err := OpenKVLedger(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.forge.failPR = 2
	p := New(Options{Loader: f.loader, Forge: f.forge, Ledger: ledger, Scrub: f.p.opt.Scrub})
	f.byHandECS(3, "nginx:1.31")
	d := f.drift("web")
	gone := d
	gone.App = "gone"
	c := NewConsumer(js, p, ConsumerOptions{Repos: map[string]Repo{"platform": f.repo}, MaxAttempts: 4,
		Backoff: func(int) time.Duration { return 20 * time.Millisecond }})
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	publishDrift(t, js, "ev-gone", "platform", gone)
	publishDrift(t, js, "ev-web", "platform", d)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := f.forge.PR("driftless/drift/web"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pull request; calls %v", f.forge.Calls())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if calls := f.forge.Calls(); len(calls) != 3 {
		t.Errorf("forge calls = %v, want 2 failures and the pull request", calls)
	}
	if n := f.git("rev-list", "--count", "main..driftless/drift/web"); n != "1" {
		t.Errorf("%s commits on the branch, want 1", n)
	}
	cancel()
	<-done
}
