package slack

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/notify"
)

func TestSlackRateLimitRetryAfter(t *testing.T) {
	h := newSlackHarness(t)
	h.rec.fault = func(n int, _ slackReq) *slackFault {
		if n == 1 {
			return &slackFault{Status: 429, RetryAfter: "7"}
		}
		return nil
	}
	s := h.notifier(nil)
	var mu sync.Mutex
	var waits []time.Duration
	var reqsAtWait []int
	s.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		reqsAtWait = append(reqsAtWait, len(h.rec.all()))
		return ctx.Err()
	}
	h.start(s)
	h.publish(slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d", Revision: shaA}))
	slackWaitFor(t, "post after the rate limit", func() bool { return len(h.rec.roots()) == 1 })
	info := h.drained(DefaultDurable)

	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 1 || waits[0] != 7*time.Second || reqsAtWait[0] != 1 {
		t.Errorf("waits = %v after %v requests, want [7s] after the 429", waits, reqsAtWait)
	}
	if all := h.rec.all(); len(all) != 2 || all[0].Accepted || !all[1].Accepted || all[1].Method != "chat.postMessage" {
		t.Errorf("requests = %d, want the rate-limited post then the same post accepted", len(all))
	}
	if info.NumRedelivered != 0 {
		t.Errorf("the 429 was retried by redelivery (%d), want the same call retried", info.NumRedelivered)
	}
	if ok, retry := slackMetric(h.m, "ok"), slackMetric(h.m, "retry"); ok != 1 || retry != 1 {
		t.Errorf("metrics ok=%v retry=%v, want 1 and 1", ok, retry)
	}
}

func TestSlackTransientErrorBacksOffInOrder(t *testing.T) {
	h := newSlackHarness(t)
	h.rec.fault = func(n int, _ slackReq) *slackFault {
		if n == 1 {
			return &slackFault{Status: 503}
		}
		return nil
	}
	var mu sync.Mutex
	var attempts []int
	s := h.notifier(func(o *Options) {
		o.Backoff = func(n int) time.Duration {
			mu.Lock()
			attempts = append(attempts, n)
			mu.Unlock()
			return 50 * time.Millisecond
		}
	})
	// Both events are in the stream before the notifier starts: the failed
	// deploy.started must still come before deploy.succeeded.
	h.publish(
		slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d", Revision: shaA}),
		slackEv(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: "d", Revision: shaA}),
	)
	h.start(s)
	slackWaitFor(t, "update and reply", func() bool { return len(h.rec.replies()) == 1 })
	h.drained(DefaultDurable)
	roots, ups, reps := h.rec.roots(), h.rec.accepted("chat.update"), h.rec.replies()
	if len(roots) != 1 || len(ups) != 1 || len(reps) != 1 || ups[0].TS != roots[0].TS || reps[0].ThreadTS != roots[0].TS {
		t.Fatalf("roots %d updates %d replies %d; want 1 each, on the same message", len(roots), len(ups), len(reps))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 1 || attempts[0] != 1 {
		t.Errorf("Backoff called with %v, want [1] (first delivery failed)", attempts)
	}
	if r := slackMetric(h.m, "retry"); r != 1 {
		t.Errorf("retry metric = %v, want 1", r)
	}
	if txt := slackBlockText(t, ups[0]); !strings.Contains(txt, "Deployed: platform/web") {
		t.Errorf("the edit does not show success:\n%s", txt)
	}
	if txt := slackBlockText(t, roots[0]); !strings.Contains(txt, "Deploying: platform/web") {
		t.Errorf("the deploy's message was not posted by deploy.started:\n%s", txt)
	}
}

func TestSlackUnknownChannelNoRedeliveryLoop(t *testing.T) {
	h := newSlackHarness(t)
	s := h.notifier(func(o *Options) {
		o.Routes = []Route{
			{Events: []string{"deploy.*"}, Channel: "#no-such-channel"},
			{Events: []string{"deploy.*"}, Channel: "#deploys"},
		}
		withMarkerRoute(o)
	})
	h.start(s)
	h.publish(
		slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"}),
		slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d2"}),
	)
	h.marker()
	info := h.drained(DefaultDurable)
	var bad int
	for _, r := range h.rec.all() {
		if r.Channel == "#no-such-channel" {
			bad++
		}
	}
	if bad != 2 {
		t.Errorf("requests to the unknown channel = %d, want 2 (one per event, no redelivery)", bad)
	}
	if n := len(h.rec.roots()); n != 3 {
		t.Errorf("accepted posts = %d, want 3 (#deploys twice, the marker)", n)
	}
	if info.NumRedelivered != 0 {
		t.Errorf("NumRedelivered = %d, want 0", info.NumRedelivered)
	}
	if e := slackMetric(h.m, "error"); e != 2 {
		t.Errorf("error metric = %v, want 2", e)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "channel_not_found") || !strings.Contains(logs, "#no-such-channel") {
		t.Errorf("no clear log line for the unknown channel:\n%s", logs)
	}
}

func TestSlackBadTokenBacksOffWithoutExiting(t *testing.T) {
	h := newSlackHarness(t)
	h.rec.fault = func(n int, _ slackReq) *slackFault {
		if n <= 2 {
			return &slackFault{Code: "invalid_auth"}
		}
		return nil
	}
	h.start(h.notifier(nil))
	h.publish(slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"}))
	slackWaitFor(t, "post once the token works", func() bool { return len(h.rec.roots()) == 1 })
	h.drained(DefaultDurable)
	if n := len(h.rec.all()); n != 3 {
		t.Errorf("requests = %d, want 3 (two rejected, one accepted)", n)
	}
	if e := slackMetric(h.m, "error"); e != 2 {
		t.Errorf("error metric = %v, want 2", e)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "invalid_auth") || !strings.Contains(logs, "fix slack.token") {
		t.Errorf("no clear log line for the bad token:\n%s", logs)
	}
	if strings.Contains(logs, slackTestToken) {
		t.Errorf("token in logs")
	}
}

// TestSlackRestartExactlyOnce stops a notifier while it waits out a rate
// limit in the middle of the stream, starts another on the same durable and
// KV, then replays the whole stream through a recreated consumer: every
// event is posted exactly once overall.
func TestSlackRestartExactlyOnce(t *testing.T) {
	h := newSlackHarness(t)
	h.rec.delay = 5 * time.Millisecond
	h.rec.fault = func(n int, _ slackReq) *slackFault {
		if n == 4 { // deploy d2's root post
			return &slackFault{Status: 429, RetryAfter: "30"}
		}
		return nil
	}
	var evs []notify.Event
	for _, id := range []string{"d1", "d2", "d3"} {
		evs = append(evs,
			slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: id, Revision: shaA, Author: id + "-author"}),
			slackEv(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: id, Revision: shaA}))
	}
	evs = append(evs,
		slackEv(notify.CatDrift, notify.ActDetected, notify.Data{Drift: []notify.DriftItem{{Address: "r"}}}),
		slackEv(notify.CatDrift, notify.ActResolved, notify.Data{}),
		slackEv(notify.CatSource, notify.ActInvalid, notify.Data{Diagnostics: []string{"x.hcl:1:1: bad"}}))
	h.publish(evs[:4]...)

	a := h.notifier(nil)
	waiting := make(chan struct{})
	var once sync.Once
	a.sleep = func(ctx context.Context, d time.Duration) error {
		once.Do(func() { close(waiting) })
		<-ctx.Done() // a long Retry-After, cut short by the shutdown
		return ctx.Err()
	}
	stopA := h.start(a)
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("notifier A never hit the rate limit")
	}
	stopA()
	if n := len(h.rec.accepted("")); n != 3 {
		t.Fatalf("A made %d accepted calls before stopping, want 3", n)
	}
	h.publish(evs[4:]...)

	stopB := h.start(h.notifier(nil))
	// 3 deploys × (root, update, reply) + drift (root, update, reply) + source.invalid.
	slackWaitFor(t, "all events posted", func() bool { return len(h.rec.accepted("")) == 13 })
	h.drained(DefaultDurable)
	// B stops first: a notifier whose consumer is deleted under it may
	// still hold a pull request that the recreated consumer serves, and
	// the event it never acks would stall the one-at-a-time consumer for
	// its ack wait (30 s), the test's whole wait.
	stopB()

	// Replay everything: a recreated consumer delivers the whole stream again.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.js.DeleteConsumer(ctx, notify.Stream, DefaultDurable); err != nil {
		t.Fatal(err)
	}
	h.start(h.notifier(nil))
	info := h.drained(DefaultDurable)
	if info.Delivered.Stream < uint64(len(evs)) {
		t.Fatalf("replay delivered up to stream seq %d, want ≥ %d", info.Delivered.Stream, len(evs))
	}

	roots, ups, reps := h.rec.roots(), h.rec.accepted("chat.update"), h.rec.replies()
	if len(roots) != 5 || len(ups) != 4 || len(reps) != 4 {
		t.Errorf("roots %d updates %d replies %d, want 5, 4, 4", len(roots), len(ups), len(reps))
	}
	seen := map[string]int{}
	for _, r := range roots {
		seen[r.Text]++
	}
	for txt, n := range seen {
		if n != 1 {
			t.Errorf("posted %d times: %q", n, txt)
		}
	}
	rootTS := map[string]bool{}
	for _, r := range roots {
		rootTS[r.TS] = true
	}
	threads := map[string]int{}
	for _, r := range reps {
		if !rootTS[r.ThreadTS] {
			t.Errorf("reply in unknown thread %s", r.ThreadTS)
		}
		threads[r.ThreadTS]++
	}
	if len(threads) != 4 {
		t.Errorf("replies spread over %d threads, want 4 (one each)", len(threads))
	}
}

func TestSlackSecretsNeverLeak(t *testing.T) {
	h := newSlackHarness(t)
	const dbPassword = "hunter2-db-password"
	h.rec.fault = func(n int, _ slackReq) *slackFault {
		switch n {
		case 1:
			return &slackFault{Code: "invalid_auth"}
		case 2:
			return &slackFault{Status: 500}
		}
		return nil
	}
	h.start(h.notifier(func(o *Options) {
		o.Scrub = redact.New(dbPassword).String
		o.RepoURLs = map[string]string{"platform": "https://ci:" + dbPassword + "@github.com/acme/platform.git"}
		withMarkerRoute(o)
	}))
	leaky := "auth failed with token " + slackTestToken + " and password " + dbPassword +
		" cloning https://x-access-token:ghs_abcdef@github.com/acme/platform.git"
	h.publish(
		slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d", Revision: shaA, PR: 7, Message: "use " + dbPassword}),
		slackEv(notify.CatDeploy, notify.ActFailed, notify.Data{DeployID: "d", Error: leaky, Step: "step with " + slackTestToken}),
		slackEv(notify.CatSource, notify.ActInvalid, notify.Data{Diagnostics: []string{"x.hcl:1:1: value " + dbPassword}}),
	)
	h.marker()
	var sawRedacted bool
	for _, r := range h.rec.all() {
		if got := r.Form.Get("token"); got != slackTestToken {
			t.Errorf("request authenticated with %q", got)
		}
		for k, vs := range r.Form {
			if k == "token" {
				continue
			}
			for _, v := range vs {
				for _, secret := range []string{slackTestToken, dbPassword, "ghs_abcdef"} {
					if strings.Contains(v, secret) {
						t.Errorf("secret %q in form field %s of %s", secret, k, r.Method)
					}
				}
				if strings.Contains(v, "[redacted]") {
					sawRedacted = true
				}
			}
		}
	}
	if !sawRedacted {
		t.Error("no [redacted] marker: the secrets were not in the messages at all?")
	}
	ups := h.rec.accepted("chat.update")
	if len(ups) != 1 || !strings.Contains(slackBlockText(t, ups[0]), "<https://github.com/acme/platform/pull/7|#7>") {
		t.Errorf("the repo URL with credentials should still give a clean PR link")
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "invalid_auth") {
		t.Errorf("expected the auth failure in the logs")
	}
	for _, secret := range []string{slackTestToken, dbPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("secret %q in logs", secret)
		}
	}
}

// TestSlackWaitsForStreamAndRecreatesConsumer starts the notifier before the
// stream exists, then deletes its consumer while it runs: it sets itself up
// again each time and posts both events once.
func TestSlackWaitsForStreamAndRecreatesConsumer(t *testing.T) {
	h := newSlackHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.js.DeleteStream(ctx, notify.Stream); err != nil {
		t.Fatal(err)
	}
	h.start(h.notifier(nil))
	slackWaitFor(t, "notifier waiting for the stream", func() bool {
		return strings.Contains(h.logs.String(), "waiting for JetStream")
	})
	if _, err := notify.EnsureStream(ctx, h.js, notify.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	h.publish(slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"}))
	slackWaitFor(t, "first post", func() bool { return len(h.rec.roots()) == 1 })
	h.drained(DefaultDurable)

	if err := h.js.DeleteConsumer(ctx, notify.Stream, DefaultDurable); err != nil {
		t.Fatal(err)
	}
	h.publish(slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d2"}))
	slackWaitFor(t, "second post after the consumer was recreated", func() bool { return len(h.rec.roots()) == 2 })
	h.drained(DefaultDurable)
	if n := len(h.rec.accepted("")); n != 2 {
		t.Errorf("accepted calls = %d, want 2 (the recreated consumer replays d1 without reposting)", n)
	}
}
