package notify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
)

const (
	shaA = "0123456789abcdef0123456789abcdef01234567"
	shaB = "89abcdef0123456789abcdef0123456789abcdef"
)

// marker publishes an event routed to #alerts and waits until it was posted:
// events are handled in stream order, so everything published before it has
// been settled by then.
func (h *slackHarness) marker() {
	h.t.Helper()
	m := New("test", "test", "marker", Data{Repo: "marker"})
	h.publish(m)
	slackWaitFor(h.t, "marker event posted", func() bool {
		for _, r := range h.rec.roots() {
			if strings.Contains(r.Text, "marker") {
				return true
			}
		}
		return false
	})
}

func withMarkerRoute(o *SlackOptions) {
	o.Routes = append(append([]SlackRoute(nil), o.Routes...), SlackRoute{Events: []string{"test.marker"}, Channel: "#alerts"})
}

func TestSlackRouting(t *testing.T) {
	h := newSlackHarness(t)
	s := h.notifier(func(o *SlackOptions) {
		o.Routes = []SlackRoute{
			{Events: []string{"deploy.*", "rollback.*"}, Channel: "#deploys"},
			{Events: []string{"drift.*"}, Channel: "#infra-drift"},
			{Events: []string{"*.failed"}, Channel: "#alerts"},
		}
		withMarkerRoute(o)
	})
	h.start(s)
	h.publish(
		slackEv(CatDeploy, ActStarted, Data{DeployID: "d1", Revision: shaA}),            // #deploys
		slackEv(CatDrift, ActDetected, Data{Drift: []DriftItem{{Address: "aws_s3.x"}}}), // #infra-drift
		slackEv(CatPlan, ActReady, Data{DeployID: "d1"}),                                // nowhere
		slackEv(CatSource, ActUpdated, Data{Revision: shaA}),                            // nowhere
		slackEv(CatDeploy, ActFailed, Data{DeployID: "d1", Error: "boom"}),              // #deploys (edit + reply) and #alerts
	)
	h.marker() // → #alerts

	roots := h.rec.roots()
	var got []string
	for _, r := range roots {
		got = append(got, r.Channel)
	}
	want := []string{"#deploys", "#infra-drift", "#alerts", "#alerts"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("root posts went to %v, want %v", got, want)
	}
	if ups := h.rec.accepted("chat.update"); len(ups) != 1 || ups[0].Channel != "CDEPLOYS" || ups[0].TS != roots[0].TS {
		t.Errorf("updates = %+v, want one of the #deploys message %s", ups, roots[0].TS)
	}
	if reps := h.rec.replies(); len(reps) != 1 || reps[0].ThreadTS != roots[0].TS {
		t.Errorf("replies = %+v, want one in the thread of %s", reps, roots[0].TS)
	}
	for _, r := range h.rec.all() {
		if strings.Contains(r.Text, "Plan ready") || strings.Contains(r.Text, "New revision") {
			t.Errorf("unrouted event reached Slack: %q", r.Text)
		}
	}
	info := h.drained(DefaultSlackDurable)
	if info.NumRedelivered != 0 {
		t.Errorf("NumRedelivered = %d, want 0", info.NumRedelivered)
	}
}

func TestSlackDeployEditInPlace(t *testing.T) {
	h := newSlackHarness(t)
	s := h.notifier(func(o *SlackOptions) {
		o.RepoURLs = map[string]string{"platform": "git@github.com:acme/platform.git"}
		withMarkerRoute(o)
	})
	h.start(s)

	started := slackEv(CatDeploy, ActStarted, Data{
		Kind: "ecs_service", DeployID: "dep-1", Revision: shaA, PreviousRevision: shaB,
		Author: "alice", Message: "Bump web to 1.4 <!channel>\n\nlong body", PR: 42,
		Summary: "1 to change", Changes: []appliers.Change{{Address: "ecs_service.web", Action: "update"}},
	})
	h.publish(started)
	slackWaitFor(t, "root post", func() bool { return len(h.rec.roots()) == 1 })
	root := h.rec.roots()[0]
	txt := slackBlockText(t, root)
	for _, want := range []string{
		"Deploying: platform/web",
		"<https://github.com/acme/platform/commit/" + shaA + "|0123456>",
		"<https://github.com/acme/platform/pull/42|#42>",
		"alice", "ecs_service", "`ecs_service.web` update", "1 to change",
		"Bump web to 1.4 &lt;!channel&gt;", // escaped: no mass mention
		"deploy `dep-1`",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("root message lacks %q:\n%s", want, txt)
		}
	}
	if !strings.Contains(root.Text, "Deploying: platform/web @ 0123456 by alice (#42)") {
		t.Errorf("fallback text = %q", root.Text)
	}

	h.publish(slackEv(CatDeploy, ActSucceeded, Data{DeployID: "dep-1", Revision: shaA, DurationMS: 42_300}))
	h.marker()
	ups := h.rec.accepted("chat.update")
	if len(ups) != 1 {
		t.Fatalf("updates = %d, want 1", len(ups))
	}
	if ups[0].TS != root.TS || ups[0].Channel != "CDEPLOYS" {
		t.Errorf("update edited %s/%s, want CDEPLOYS/%s", ups[0].Channel, ups[0].TS, root.TS)
	}
	utxt := slackBlockText(t, ups[0])
	for _, want := range []string{"Deployed: platform/web", "alice", "#42", "42s"} {
		if !strings.Contains(utxt, want) {
			t.Errorf("edited message lacks %q (kept from deploy.started or new):\n%s", want, utxt)
		}
	}
	if strings.Contains(utxt, "Deploying") {
		t.Errorf("edited message still says Deploying:\n%s", utxt)
	}
	reps := h.rec.replies()
	if len(reps) != 1 || reps[0].ThreadTS != root.TS || reps[0].Channel != "CDEPLOYS" {
		t.Fatalf("replies = %+v, want one in thread %s", reps, root.TS)
	}
	if rt := slackBlockText(t, reps[0]); !strings.Contains(rt, "Deployed") || !strings.Contains(rt, "42s") {
		t.Errorf("thread reply = %q", rt)
	}
	if n := len(h.rec.roots()); n != 2 { // the deploy's and the marker's
		t.Errorf("root posts = %d, want 2", n)
	}
}

func TestSlackDeployFailureRollbackAndPlanThread(t *testing.T) {
	h := newSlackHarness(t)
	s := h.notifier(func(o *SlackOptions) {
		o.RepoURLs = map[string]string{"platform": "https://gitlab.com/acme/infra/platform.git"}
		withMarkerRoute(o)
	})
	h.start(s)
	longErr := "apply failed: ```nested``` <html> & " + strings.Repeat("x", 3000)
	h.publish(
		slackEv(CatPlan, ActReady, Data{DeployID: "dep-2", Revision: shaA, Summary: "2 to change",
			Changes: []appliers.Change{{Address: "a", Action: "create"}, {Address: "b", Action: "update"}}}),
		slackEv(CatDeploy, ActStarted, Data{DeployID: "dep-2", Revision: shaA, Author: "bob"}),
		slackEv(CatDeploy, ActFailed, Data{DeployID: "dep-2", Revision: shaA, Error: longErr, DurationMS: 900}),
		slackEv(CatRollback, ActStarted, Data{DeployID: "dep-2", Revision: shaB, Reason: "rollback"}),
		slackEv(CatRollback, ActSucceeded, Data{DeployID: "dep-2", Revision: shaB, DurationMS: 5000}),
	)
	h.marker()
	roots := h.rec.roots()
	if len(roots) != 2 {
		t.Fatalf("root posts = %d, want 2 (the deploy's, the marker's)", len(roots))
	}
	root := roots[0]
	if !strings.Contains(slackBlockText(t, root), "Plan ready: platform/web") {
		t.Errorf("first post is not the plan: %s", slackBlockText(t, root))
	}
	ups := h.rec.accepted("chat.update")
	reps := h.rec.replies()
	if len(ups) != 4 || len(reps) != 4 {
		t.Fatalf("updates %d, replies %d; want 4 and 4", len(ups), len(reps))
	}
	wantHeads := []string{"Deploying", "Deploy failed", "Rolling back", "Rolled back"}
	for i, u := range ups {
		if u.TS != root.TS || reps[i].ThreadTS != root.TS {
			t.Errorf("step %d not on the deploy's message", i)
		}
		if txt := slackBlockText(t, u); !strings.Contains(txt, wantHeads[i]+": platform/web") {
			t.Errorf("update %d lacks %q:\n%s", i, wantHeads[i], txt)
		}
	}
	failed := slackBlockText(t, ups[1])
	if !strings.Contains(failed, "```\napply failed: '''nested''' &lt;html&gt; &amp; xxx") {
		t.Errorf("error not in an escaped code block:\n%.300s", failed)
	}
	if strings.Count(failed, "x") > maxErrorText {
		t.Errorf("error not truncated: %d x's", strings.Count(failed, "x"))
	}
	if !strings.Contains(failed, "https://gitlab.com/acme/infra/platform/-/commit/"+shaA) {
		t.Errorf("no gitlab commit link:\n%.500s", failed)
	}
	if !strings.Contains(slackBlockText(t, ups[3]), "bob") {
		t.Errorf("rollback message lost the author from deploy.started")
	}
}

func TestSlackDriftLifecycle(t *testing.T) {
	h := newSlackHarness(t)
	h.start(h.notifier(withMarkerRoute))
	first := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	drift := func(act, fp string, items ...DriftItem) Event {
		d := Data{Kind: "stack", FirstSeen: &first, Drift: items}
		if fp != "" {
			d.Extra = map[string]string{"fingerprint": fp}
		}
		return slackEv(CatDrift, act, d)
	}
	h.publish(
		drift(ActDetected, "fp1", DriftItem{Address: "aws_s3_bucket.logs", Attributes: []string{"tags"}}),
		drift(ActDetected, "fp1", DriftItem{Address: "aws_s3_bucket.logs", Attributes: []string{"tags"}}), // reminder
		drift(ActDetected, "fp2", DriftItem{Address: "aws_s3_bucket.logs", Attributes: []string{"tags", "acl"}}),
		drift(ActResolved, ""),
		drift(ActDetected, "fp3", DriftItem{Address: "aws_iam_role.x", Attributes: []string{"assume_role_policy"}}),
	)
	h.marker()
	var roots []slackReq
	for _, r := range h.rec.roots() {
		if r.Channel == "#infra-drift" {
			roots = append(roots, r)
		}
	}
	if len(roots) != 2 {
		t.Fatalf("drift root posts = %d, want 2 (first drift, drift after resolution)", len(roots))
	}
	if txt := slackBlockText(t, roots[0]); !strings.Contains(txt, "Drift detected: platform/web") ||
		!strings.Contains(txt, "`aws_s3_bucket.logs`: tags") || !strings.Contains(txt, "2030-01-02T03:04:05Z") {
		t.Errorf("drift message:\n%s", txt)
	}
	ups := h.rec.accepted("chat.update")
	if len(ups) != 2 {
		t.Fatalf("updates = %d, want 2 (changed, resolved)", len(ups))
	}
	if !strings.Contains(slackBlockText(t, ups[0]), "tags, acl") {
		t.Errorf("changed drift not shown: %s", slackBlockText(t, ups[0]))
	}
	if txt := slackBlockText(t, ups[1]); !strings.Contains(txt, "Drift resolved: platform/web") || !strings.Contains(txt, "aws_s3_bucket.logs") {
		t.Errorf("resolved edit: %s", txt)
	}
	for _, u := range ups {
		if u.TS != roots[0].TS || u.Channel != "CINFRADRIFT" {
			t.Errorf("update of %s/%s, want CINFRADRIFT/%s", u.Channel, u.TS, roots[0].TS)
		}
	}
	reps := h.rec.replies()
	wantReplies := []string{"Drift still open", "Drift changed", "Drift resolved"}
	if len(reps) != len(wantReplies) {
		t.Fatalf("replies = %d, want %d", len(reps), len(wantReplies))
	}
	for i, r := range reps {
		if r.ThreadTS != roots[0].TS || !strings.Contains(slackBlockText(t, r), wantReplies[i]) {
			t.Errorf("reply %d = %q in thread %s, want %q in %s", i, slackBlockText(t, r), r.ThreadTS, wantReplies[i], roots[0].TS)
		}
	}
}

func TestSlackSourceInvalidStandalone(t *testing.T) {
	h := newSlackHarness(t)
	h.start(h.notifier(withMarkerRoute))
	h.publish(slackEv(CatSource, ActInvalid, Data{Revision: shaA, Diagnostics: []string{
		"deploy/app.hcl:3:5: Unsupported argument; An argument named \"foo\" is not expected here.",
		"deploy/app.hcl:9:1: Missing <required> argument",
	}}))
	h.marker()
	roots := h.rec.roots()
	if len(roots) != 2 || roots[0].Channel != "#deploys" {
		t.Fatalf("roots = %+v", roots)
	}
	txt := slackBlockText(t, roots[0])
	if !strings.Contains(txt, "Invalid manifests: platform") ||
		!strings.Contains(txt, "```\ndeploy/app.hcl:3:5: Unsupported argument") ||
		!strings.Contains(txt, "Missing &lt;required&gt; argument") {
		t.Errorf("source.invalid message:\n%s", txt)
	}
}

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
	h.publish(slackEv(CatDeploy, ActStarted, Data{DeployID: "d", Revision: shaA}))
	slackWaitFor(t, "post after the rate limit", func() bool { return len(h.rec.roots()) == 1 })
	info := h.drained(DefaultSlackDurable)

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
	s := h.notifier(func(o *SlackOptions) {
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
		slackEv(CatDeploy, ActStarted, Data{DeployID: "d", Revision: shaA}),
		slackEv(CatDeploy, ActSucceeded, Data{DeployID: "d", Revision: shaA}),
	)
	h.start(s)
	slackWaitFor(t, "update and reply", func() bool { return len(h.rec.replies()) == 1 })
	h.drained(DefaultSlackDurable)
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
	s := h.notifier(func(o *SlackOptions) {
		o.Routes = []SlackRoute{
			{Events: []string{"deploy.*"}, Channel: "#no-such-channel"},
			{Events: []string{"deploy.*"}, Channel: "#deploys"},
		}
		withMarkerRoute(o)
	})
	h.start(s)
	h.publish(
		slackEv(CatDeploy, ActStarted, Data{DeployID: "d1"}),
		slackEv(CatDeploy, ActStarted, Data{DeployID: "d2"}),
	)
	h.marker()
	info := h.drained(DefaultSlackDurable)
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
	h.publish(slackEv(CatDeploy, ActStarted, Data{DeployID: "d1"}))
	slackWaitFor(t, "post once the token works", func() bool { return len(h.rec.roots()) == 1 })
	h.drained(DefaultSlackDurable)
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
	var evs []Event
	for _, id := range []string{"d1", "d2", "d3"} {
		evs = append(evs,
			slackEv(CatDeploy, ActStarted, Data{DeployID: id, Revision: shaA, Author: id + "-author"}),
			slackEv(CatDeploy, ActSucceeded, Data{DeployID: id, Revision: shaA}))
	}
	evs = append(evs,
		slackEv(CatDrift, ActDetected, Data{Drift: []DriftItem{{Address: "r"}}}),
		slackEv(CatDrift, ActResolved, Data{}),
		slackEv(CatSource, ActInvalid, Data{Diagnostics: []string{"x.hcl:1:1: bad"}}))
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

	h.start(h.notifier(nil))
	// 3 deploys × (root, update, reply) + drift (root, update, reply) + source.invalid.
	slackWaitFor(t, "all events posted", func() bool { return len(h.rec.accepted("")) == 13 })
	h.drained(DefaultSlackDurable)

	// Replay everything: a recreated consumer delivers the whole stream again.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.js.DeleteConsumer(ctx, Stream, DefaultSlackDurable); err != nil {
		t.Fatal(err)
	}
	h.start(h.notifier(nil))
	info := h.drained(DefaultSlackDurable)
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
	h.start(h.notifier(func(o *SlackOptions) {
		o.Secrets = []string{dbPassword}
		o.RepoURLs = map[string]string{"platform": "https://ci:" + dbPassword + "@github.com/acme/platform.git"}
		withMarkerRoute(o)
	}))
	leaky := "auth failed with token " + slackTestToken + " and password " + dbPassword +
		" cloning https://x-access-token:ghs_abcdef@github.com/acme/platform.git"
	h.publish(
		slackEv(CatDeploy, ActStarted, Data{DeployID: "d", Revision: shaA, PR: 7, Message: "use " + dbPassword}),
		slackEv(CatDeploy, ActFailed, Data{DeployID: "d", Error: leaky, Step: "step with " + slackTestToken}),
		slackEv(CatSource, ActInvalid, Data{Diagnostics: []string{"x.hcl:1:1: value " + dbPassword}}),
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
	if err := h.js.DeleteStream(ctx, Stream); err != nil {
		t.Fatal(err)
	}
	h.start(h.notifier(nil))
	slackWaitFor(t, "notifier waiting for the stream", func() bool {
		return strings.Contains(h.logs.String(), "waiting for JetStream")
	})
	if _, err := EnsureStream(ctx, h.js, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	h.publish(slackEv(CatDeploy, ActStarted, Data{DeployID: "d1"}))
	slackWaitFor(t, "first post", func() bool { return len(h.rec.roots()) == 1 })
	h.drained(DefaultSlackDurable)

	if err := h.js.DeleteConsumer(ctx, Stream, DefaultSlackDurable); err != nil {
		t.Fatal(err)
	}
	h.publish(slackEv(CatDeploy, ActStarted, Data{DeployID: "d2"}))
	slackWaitFor(t, "second post after the consumer was recreated", func() bool { return len(h.rec.roots()) == 2 })
	h.drained(DefaultSlackDurable)
	if n := len(h.rec.accepted("")); n != 2 {
		t.Errorf("accepted calls = %d, want 2 (the recreated consumer replays d1 without reposting)", n)
	}
}
