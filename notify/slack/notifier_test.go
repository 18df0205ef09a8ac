package slack

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/notify"
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
	m := notify.New("test", "test", "marker", notify.Data{Repo: "marker"})
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

func withMarkerRoute(o *Options) {
	o.Routes = append(append([]Route(nil), o.Routes...), Route{Events: []string{"test.marker"}, Channel: "#alerts"})
}

func TestSlackRouting(t *testing.T) {
	h := newSlackHarness(t)
	s := h.notifier(func(o *Options) {
		o.Routes = []Route{
			{Events: []string{"deploy.*", "rollback.*"}, Channel: "#deploys"},
			{Events: []string{"drift.*"}, Channel: "#infra-drift"},
			{Events: []string{"*.failed"}, Channel: "#alerts"},
		}
		withMarkerRoute(o)
	})
	h.start(s)
	h.publish(
		slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1", Revision: shaA}),                   // #deploys
		slackEv(notify.CatDrift, notify.ActDetected, notify.Data{Drift: []notify.DriftItem{{Address: "aws_s3.x"}}}), // #infra-drift
		slackEv(notify.CatPlan, notify.ActReady, notify.Data{DeployID: "d1"}),                                       // nowhere
		slackEv(notify.CatSource, notify.ActUpdated, notify.Data{Revision: shaA}),                                   // nowhere
		slackEv(notify.CatDeploy, notify.ActFailed, notify.Data{DeployID: "d1", Error: "boom"}),                     // #deploys (edit + reply) and #alerts
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
	info := h.drained(DefaultDurable)
	if info.NumRedelivered != 0 {
		t.Errorf("NumRedelivered = %d, want 0", info.NumRedelivered)
	}
}

func TestSlackDeployEditInPlace(t *testing.T) {
	h := newSlackHarness(t)
	s := h.notifier(func(o *Options) {
		o.RepoURLs = map[string]string{"platform": "git@github.com:acme/platform.git"}
		withMarkerRoute(o)
	})
	h.start(s)

	started := slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{
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

	h.publish(slackEv(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: "dep-1", Revision: shaA, DurationMS: 42_300}))
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
	s := h.notifier(func(o *Options) {
		o.RepoURLs = map[string]string{"platform": "https://gitlab.com/acme/infra/platform.git"}
		withMarkerRoute(o)
	})
	h.start(s)
	longErr := "apply failed: ```nested``` <html> & " + strings.Repeat("x", 3000)
	h.publish(
		slackEv(notify.CatPlan, notify.ActReady, notify.Data{DeployID: "dep-2", Revision: shaA, Summary: "2 to change",
			Changes: []appliers.Change{{Address: "a", Action: "create"}, {Address: "b", Action: "update"}}}),
		slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "dep-2", Revision: shaA, Author: "bob"}),
		slackEv(notify.CatDeploy, notify.ActFailed, notify.Data{DeployID: "dep-2", Revision: shaA, Error: longErr, DurationMS: 900}),
		slackEv(notify.CatRollback, notify.ActStarted, notify.Data{DeployID: "dep-2", Revision: shaB, Reason: "rollback"}),
		slackEv(notify.CatRollback, notify.ActSucceeded, notify.Data{DeployID: "dep-2", Revision: shaB, DurationMS: 5000}),
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
	drift := func(act, fp string, items ...notify.DriftItem) notify.Event {
		d := notify.Data{Kind: "stack", FirstSeen: &first, Drift: items}
		if fp != "" {
			d.Extra = map[string]string{"fingerprint": fp}
		}
		return slackEv(notify.CatDrift, act, d)
	}
	h.publish(
		drift(notify.ActDetected, "fp1", notify.DriftItem{Address: "aws_s3_bucket.logs", Attributes: []string{"tags"}}),
		drift(notify.ActDetected, "fp1", notify.DriftItem{Address: "aws_s3_bucket.logs", Attributes: []string{"tags"}}), // reminder
		drift(notify.ActDetected, "fp2", notify.DriftItem{Address: "aws_s3_bucket.logs", Attributes: []string{"tags", "acl"}}),
		drift(notify.ActResolved, ""),
		drift(notify.ActDetected, "fp3", notify.DriftItem{Address: "aws_iam_role.x", Attributes: []string{"assume_role_policy"}}),
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
	h.publish(slackEv(notify.CatSource, notify.ActInvalid, notify.Data{Revision: shaA, Diagnostics: []string{
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

// TestSlackLogNoDuplicateKeys: the daemon narrows the logger with
// component=slack; the notifier must not add it (or any key) again.
func TestSlackLogNoDuplicateKeys(t *testing.T) {
	h := newSlackHarness(t)
	h.rec.fault = func(n int, _ slackReq) *slackFault {
		if n == 1 {
			return &slackFault{Status: 503}
		}
		return nil
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "slack")
	s, err := New(h.js, Options{Token: slackTestToken, APIURL: h.api, Routes: slackRoutes,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }}, h.m, log)
	if err != nil {
		t.Fatal(err)
	}
	s.fetchWait = 100 * time.Millisecond
	stop := h.start(s)
	h.publish(slackEv(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d", Revision: shaA}))
	slackWaitFor(t, "post after the retry", func() bool { return len(h.rec.roots()) == 1 })
	h.drained(DefaultDurable)
	stop()
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("only %d log lines", len(lines))
	}
	for _, line := range lines {
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("not a JSON object: %s", line)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, _ := dec.Token()
			key := k.(string)
			if seen[key] {
				t.Errorf("key %q twice in %s", key, line)
			}
			seen[key] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
		}
		if !seen["component"] {
			t.Errorf("component missing: %s", line)
		}
	}
}
