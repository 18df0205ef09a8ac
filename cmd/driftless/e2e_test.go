package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// End-to-end tests of the whole daemon: real Git repositories, real
// Terraform on terraform_data stacks, the embedded NATS server and the real
// HTTP API. Each test runs its own daemon.

func TestE2EFirstDeploy(t *testing.T) {
	h, _, _, rev := startStacks(t)
	apps := h.waitSynced(rev, "platform/network", "platform/app")

	for _, name := range []string{"platform/network", "platform/app"} {
		a := apps[name]
		if a.Kind != "stack" || a.DesiredRevision != rev || a.LastError != "" || a.Suspended || a.PinnedRevision != "" {
			t.Errorf("%s = %+v, want a synced stack at %s", name, a, rev)
		}
	}

	evs := h.events()
	// source.updated first, then network's whole deploy before app's start.
	src := indexOf(evs, "source.updated", "platform", rev)
	netReady := indexOf(evs, "plan.ready", "platform/network", rev)
	netStarted := indexOf(evs, "deploy.started", "platform/network", rev)
	netDone := indexOf(evs, "deploy.succeeded", "platform/network", rev)
	appStarted := indexOf(evs, "deploy.started", "platform/app", rev)
	appDone := indexOf(evs, "deploy.succeeded", "platform/app", rev)
	if src < 0 || netReady < 0 || netStarted < 0 || netDone < 0 || appStarted < 0 || appDone < 0 ||
		!(src < netReady && netReady < netStarted && netStarted < netDone && netDone < appStarted && appStarted < appDone) {
		t.Errorf("events out of order or missing: source.updated %d, network plan.ready %d, deploy.started %d, deploy.succeeded %d; app deploy.started %d, deploy.succeeded %d\n%s",
			src, netReady, netStarted, netDone, appStarted, appDone, eventList(evs))
	}
	for _, typ := range []string{"deploy.started", "deploy.succeeded", "plan.ready"} {
		for _, app := range []string{"platform/network", "platform/app"} {
			if n := len(filter(evs, typ, app)); n != 1 {
				t.Errorf("%d %s events for %s, want 1", n, typ, app)
			}
		}
	}
	if n := len(filter(evs, "deploy.failed", "")); n != 0 {
		t.Errorf("%d deploy.failed events:\n%s", n, eventList(evs))
	}

	// The CloudEvents envelope of app's deploy.succeeded.
	if appDone >= 0 {
		ev := evs[appDone]
		if ev.SpecVersion != "1.0" || len(ev.ID) != 32 || ev.Source != "driftless/e2e" ||
			ev.Type != "io.driftless.deploy.succeeded" || ev.Subject != "platform/app" ||
			ev.DataContentType != "application/json" || ev.Time.IsZero() {
			t.Errorf("envelope = %+v", ev)
		}
		d := ev.Data
		if d.Repo != "platform" || d.App != "app" || d.Kind != "stack" || d.Revision != rev || d.DeployID == "" ||
			d.DeployID != evs[appStarted].Data.DeployID || d.Message != "Initial platform" || d.Author == "" {
			t.Errorf("data = %+v", d)
		}
		if len(d.Changes) != 1 || d.Changes[0].Address != "terraform_data.app" || d.Changes[0].Action != "create" {
			t.Errorf("changes = %+v, want [{terraform_data.app create}]", d.Changes)
		}
		if d.DurationMS <= 0 {
			t.Errorf("duration_ms = %d", d.DurationMS)
		}
	}
	// Every event id is unique (Nats-Msg-Id dedupe would hide repeats).
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.ID] {
			t.Errorf("event id %s twice", ev.ID)
		}
		seen[ev.ID] = true
	}

	// The output of network flowed into app: app's resource got it.
	tfstate := readTFState(t, h, "platform", "app", "infra/app")
	if !strings.Contains(tfstate, `"net-1/v1"`) {
		t.Errorf("app's state does not hold net-1/v1:\n%s", tfstate)
	}

	// GET /api/v1/events streams the same events as NDJSON.
	code, body := h.get("/api/v1/events")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/events: %d %s", code, body)
	}
	var streamed []notify.Event
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev notify.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		streamed = append(streamed, ev)
	}
	if len(streamed) < len(evs) {
		t.Errorf("/api/v1/events gave %d events, NATS holds %d", len(streamed), len(evs))
	}
	for i := range min(len(streamed), len(evs)) {
		if streamed[i].ID != evs[i].ID {
			t.Errorf("/api/v1/events[%d] = %s, NATS has %s", i, streamed[i].ID, evs[i].ID)
			break
		}
	}

	// Health, readiness, metrics.
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, b := h.get(p); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", p, code, b)
		}
	}
	code, body = h.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	m := string(body)
	for _, want := range []string{"driftless_reconciles_total{", "driftless_apps{", "driftless_plans_total{"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if got := sumMetric(m, "driftless_plans_total"); got != 2 {
		t.Errorf("driftless_plans_total = %v, want 2", got)
	}
	if !regexp.MustCompile(`(?m)^driftless_apps\{status="synced"\} 2$`).MatchString(m) {
		t.Errorf("/metrics: driftless_apps{status=\"synced\"} is not 2:\n%s", grepLines(m, "driftless_apps"))
	}
	if !regexp.MustCompile(`(?m)^driftless_reconciles_total\{app="app",repo="platform",result="succeeded"\} 1$`).MatchString(m) {
		t.Errorf("/metrics: no succeeded reconcile of app:\n%s", grepLines(m, "driftless_reconciles_total"))
	}

	// One app, and its history.
	code, body = h.get("/api/v1/apps/platform/app/history")
	var hist []state.DeployRecord
	if code != http.StatusOK || json.Unmarshal(body, &hist) != nil || len(hist) != 1 || hist[0].Outcome != "succeeded" || hist[0].Revision != rev {
		t.Errorf("history = %d %s", code, body)
	}
	if code, _ := h.get("/api/v1/apps/platform/nope"); code != http.StatusNotFound {
		t.Errorf("GET unknown app = %d, want 404", code)
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// readTFState reads the local Terraform state of a stack in the daemon's
// work dir ("" when there is none yet).
func readTFState(t *testing.T, h *e2e, repo, app, path string) string {
	t.Helper()
	p := filepath.Join(h.cfg.StateDir, "terraform", repo, app, "src", filepath.FromSlash(path), "terraform.tfstate")
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestE2EOnlyTheChangedStack(t *testing.T) {
	h, g, _, rev1 := startStacks(t)
	h.waitSynced(rev1, "platform/network", "platform/app")
	plans := h.metric("driftless_plans_total")

	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v2", 1))
	rev2 := g.Commit("app: v2")
	h.waitSynced(rev2, "platform/network", "platform/app")
	// A few more polls: nothing else may happen.
	time.Sleep(2500 * time.Millisecond)

	evs := h.events()
	if n := len(filter(evs, "deploy.started", "platform/app")); n != 2 {
		t.Errorf("%d deploy.started for app, want 2 (one per commit)\n%s", n, eventList(evs))
	}
	if n := len(filter(evs, "deploy.started", "platform/network")); n != 1 {
		t.Errorf("%d deploy.started for network, want 1: the commit did not touch it\n%s", n, eventList(evs))
	}
	if n := len(filter(evs, "source.updated", "platform")); n != 2 {
		t.Errorf("%d source.updated, want 2", n)
	}
	if i := indexOf(evs, "deploy.succeeded", "platform/app", rev2); i < 0 {
		t.Errorf("no deploy.succeeded of app at %.7s", rev2)
	} else if d := evs[i].Data; d.PreviousRevision != rev1 || len(d.Changes) != 1 || d.Changes[0].Action != "update" {
		t.Errorf("deploy.succeeded data = %+v, want previous %s and one update", d, rev1)
	}
	if got := h.metric("driftless_plans_total"); got != plans+1 {
		t.Errorf("driftless_plans_total went %v → %v, want one more plan", plans, got)
	}
	// network is synced at rev2 without having been planned.
	if a := h.apps()["platform/network"]; a.LastDeploy == nil || a.LastDeploy.Revision != rev1 {
		t.Errorf("network's last deploy = %+v, want the one of %.7s", a.LastDeploy, rev1)
	}
	if tfstate := readTFState(t, h, "platform", "app", "infra/app"); !strings.Contains(tfstate, `"net-1/v2"`) {
		t.Errorf("app's state does not hold net-1/v2:\n%s", tfstate)
	}
}

func TestE2EInvalidCommit(t *testing.T) {
	h, g, _, rev1 := startStacks(t)
	h.waitSynced(rev1, "platform/network", "platform/app")

	// One commit: an app change, plus a syntax error, an unknown block and
	// a path escaping the repository.
	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v2", 1))
	g.Write("deploy/x.hcl", "# a syntax error on line 3\nstack \"broken\" {\n  path = = \"infra/app\"\n}\n")
	g.Write("deploy/y.hcl", "widget \"w\" {\n}\n\nstack \"escape\" {\n  path = \"../outside\"\n}\n")
	bad := g.Commit("app: v2, with broken manifests")

	var invalid []notify.Event
	h.waitFor(90*time.Second, "source.invalid", func() bool {
		invalid = filter(h.events(), "source.invalid", "platform")
		return len(invalid) > 0
	})
	time.Sleep(2500 * time.Millisecond) // more polls of the same bad revision
	evs := h.events()
	invalid = filter(evs, "source.invalid", "platform")
	if len(invalid) != 1 {
		t.Fatalf("%d source.invalid events, want 1 (reported once)\n%s", len(invalid), eventList(evs))
	}
	d := invalid[0].Data
	if d.Revision != bad || d.Error == "" {
		t.Errorf("source.invalid data = %+v", d)
	}
	wantDiags := []string{
		"deploy/x.hcl:3:10: Invalid expression",
		"deploy/y.hcl:1:1: Unsupported block type",
		`deploy/y.hcl:5:10: Invalid path: path "../outside" escapes the repository`,
	}
	if len(d.Diagnostics) != len(wantDiags) {
		t.Errorf("diagnostics = %q, want %d lines", d.Diagnostics, len(wantDiags))
	}
	for i, want := range wantDiags {
		if i < len(d.Diagnostics) && !strings.HasPrefix(d.Diagnostics[i], want) {
			t.Errorf("diagnostics[%d] = %q, want prefix %q", i, d.Diagnostics[i], want)
		}
	}
	for _, typ := range []string{"deploy.started", "plan.ready", "deploy.failed"} {
		for _, ev := range filter(evs, typ, "") {
			if ev.Data.Revision == bad {
				t.Errorf("%s for %s at the invalid revision", typ, ev.Subject)
			}
		}
	}
	if i := indexOf(evs, "source.updated", "platform", bad); i >= 0 {
		t.Errorf("source.updated for the invalid revision")
	}
	for name, a := range h.apps() {
		if a.AppliedRevision != rev1 || a.Status != state.StatusSynced {
			t.Errorf("%s = applied %.7s, %s; want still synced at %.7s", name, a.AppliedRevision, a.Status, rev1)
		}
	}
	if code, _ := h.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d after an invalid commit", code)
	}
	if tfstate := readTFState(t, h, "platform", "app", "infra/app"); !strings.Contains(tfstate, `"net-1/v1"`) {
		t.Errorf("app changed by an invalid revision:\n%s", tfstate)
	}

	// The fix keeps the app change: it is applied, network is left alone.
	g.Remove("deploy/x.hcl")
	g.Remove("deploy/y.hcl")
	fix := g.Commit("fix the manifests")
	h.waitSynced(fix, "platform/network", "platform/app")
	evs = h.events()
	if i := indexOf(evs, "deploy.succeeded", "platform/app", fix); i < 0 {
		t.Errorf("the fixing commit was not deployed\n%s", eventList(evs))
	}
	if n := len(filter(evs, "deploy.started", "platform/app")); n != 2 {
		t.Errorf("%d deploy.started for app, want 2", n)
	}
	if n := len(filter(evs, "deploy.started", "platform/network")); n != 1 {
		t.Errorf("%d deploy.started for network, want 1", n)
	}
	if tfstate := readTFState(t, h, "platform", "app", "infra/app"); !strings.Contains(tfstate, `"net-1/v2"`) {
		t.Errorf("the app change was not applied:\n%s", tfstate)
	}
}

func TestE2ERestartReappliesNothing(t *testing.T) {
	h, g, cfgPath, rev1 := startStacks(t)
	h.waitSynced(rev1, "platform/network", "platform/app")
	before := len(h.events())
	h.stop()

	h2 := startE2E(t, cfgPath, map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	h2.waitFor(60*time.Second, "/readyz 200", func() bool {
		code, _ := h2.get("/readyz")
		return code == http.StatusOK
	})
	time.Sleep(2500 * time.Millisecond) // a few polls
	evs := h2.events()
	if len(evs) < before {
		t.Fatalf("the stream lost events across the restart: %d, had %d", len(evs), before)
	}
	for _, ev := range evs[before:] {
		switch eventType(ev) {
		case "source.updated":
		default:
			t.Errorf("after the restart: %s for %s", eventType(ev), ev.Subject)
		}
	}
	for _, name := range []string{"platform/network", "platform/app"} {
		a := h2.apps()[name]
		if a.AppliedRevision != rev1 || a.Status != state.StatusSynced || a.LastDeploy == nil || a.LastDeploy.Revision != rev1 {
			t.Errorf("%s after the restart = %+v", name, a)
		}
	}
	if got := h2.metric("driftless_plans_total"); got != 0 {
		t.Errorf("driftless_plans_total = %v after the restart, want 0", got)
	}

	// A commit after the restart: app is planned with network's outputs
	// read back from its state (no cache survives the restart).
	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v3", 1))
	rev2 := g.Commit("app: v3")
	h2.waitSynced(rev2, "platform/network", "platform/app")
	evs = h2.events()
	if n := len(filter(evs, "deploy.started", "platform/app")); n != 2 {
		t.Errorf("%d deploy.started for app, want 2", n)
	}
	if n := len(filter(evs, "deploy.started", "platform/network")); n != 1 {
		t.Errorf("%d deploy.started for network, want 1", n)
	}
	if tfstate := readTFState(t, h2, "platform", "app", "infra/app"); !strings.Contains(tfstate, `"net-1/v3"`) {
		t.Errorf("app's state does not hold net-1/v3:\n%s", tfstate)
	}
}

func TestE2EApprovalGate(t *testing.T) {
	testenv.Short(t)
	g := testenv.NewGitRepo(t)
	g.Write("deploy/gated.hcl", "stack \"gated\" {\n  path       = \"infra/gated\"\n  auto_apply = false\n}\n")
	g.Write("infra/gated/main.tf", "resource \"terraform_data\" \"g\" {\n  input = \"gated\"\n}\n")
	rev := g.Commit("a gated stack")
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""))
	h := startE2E(t, cfgPath, map[string]string{"DRIFTLESS_API_TOKEN": testToken})

	h.waitFor(90*time.Second, "awaiting-approval", func() bool {
		return h.apps()["platform/gated"].Status == state.StatusAwaitingApproval
	})
	time.Sleep(2 * time.Second) // more polls must not plan or apply again
	evs := h.events()
	if n := len(filter(evs, "plan.awaiting_approval", "platform/gated")); n != 1 {
		t.Errorf("%d plan.awaiting_approval, want 1\n%s", n, eventList(evs))
	}
	if n := len(filter(evs, "deploy.started", "")); n != 0 {
		t.Errorf("deploy started without approval\n%s", eventList(evs))
	}
	if s := readTFState(t, h, "platform", "gated", "infra/gated"); strings.Contains(s, "terraform_data") {
		t.Errorf("the resource exists before the approval:\n%s", s)
	}
	a := h.apps()["platform/gated"]
	if a.LastPlan == nil || !a.LastPlan.Changed || a.LastPlan.Revision != rev || a.AppliedRevision != "" {
		t.Errorf("gated = %+v, want a pending plan at %.7s, nothing applied", a, rev)
	}

	path := "/api/v1/apps/platform/gated/approve"
	if code, b := h.do(http.MethodPost, path, "", strings.NewReader(`{}`)); code != http.StatusUnauthorized {
		t.Errorf("approve without a token = %d %s, want 401", code, b)
	}
	if code, b := h.do(http.MethodPost, path, "wrong-token", strings.NewReader(`{}`)); code != http.StatusUnauthorized {
		t.Errorf("approve with a wrong token = %d %s, want 401", code, b)
	}
	if n := len(filter(h.events(), "deploy.started", "")); n != 0 {
		t.Fatalf("an unauthorised approval started a deploy")
	}
	if code, b := h.do(http.MethodPost, path, testToken, strings.NewReader(`{"caller":"e2e"}`)); code != http.StatusOK {
		t.Fatalf("approve = %d %s", code, b)
	}
	h.waitSynced(rev, "platform/gated")
	evs = h.events()
	ready := filter(evs, "plan.ready", "platform/gated")
	done := filter(evs, "deploy.succeeded", "platform/gated")
	if len(done) != 1 || len(ready) != 1 || done[0].Data.PlanID != ready[0].Data.PlanID || done[0].Data.Reason != state.ReasonApproved {
		t.Errorf("want one deploy.succeeded of the approved plan, reason approved\n%s", eventList(evs))
	}
	if s := readTFState(t, h, "platform", "gated", "infra/gated"); !strings.Contains(s, "terraform_data") {
		t.Errorf("the resource was not created after the approval:\n%s", s)
	}
	// Nothing awaits approval any more.
	if code, b := h.do(http.MethodPost, path, testToken, strings.NewReader(`{}`)); code != http.StatusConflict {
		t.Errorf("a second approve = %d %s, want 409", code, b)
	}
}
