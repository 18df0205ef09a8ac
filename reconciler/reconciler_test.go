package reconciler

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/state"
)

const twoStacks = `
stack "network" {
  path = "infra/network"
  vars = { cidr = "10.0.0.0/16" }
}
stack "app" {
  path = "infra/app"
  vars = { cluster = stack.network.outputs.cidr }
}
stack "dns" {
  path = "infra/dns"
}
`

func baseFiles() map[string]string {
	return map[string]string{
		"deploy/stacks.hcl":     twoStacks,
		"infra/network/main.tf": "# network v1",
		"infra/app/main.tf":     "# app v1",
		"infra/dns/main.tf":     "# dns v1",
		"README.md":             "hello",
	}
}

func TestFirstDeployInDependencyOrder(t *testing.T) {
	h := newHarness(t)
	sha := h.src.commit("init", baseFiles())
	h.sync()
	_, applies := h.stack.counts()
	if !reflect.DeepEqual(applies, map[string]int{"network": 1, "app": 1, "dns": 1}) {
		t.Fatalf("applies = %v", applies)
	}
	if i, j := slices.Index(h.stack.order, "network"), slices.Index(h.stack.order, "app"); i > j {
		t.Errorf("app applied before network: %v", h.stack.order)
	}
	for _, app := range []string{"network", "app", "dns"} {
		st := h.state(app)
		if st.Status != state.StatusSynced || st.AppliedRevision != sha || st.DesiredRevision != sha || st.Kind != "stack" {
			t.Errorf("%s state = %+v", app, st)
		}
		if h.ev.find("deploy.succeeded", app) == nil || h.ev.find("deploy.started", app) == nil {
			t.Errorf("%s: missing deploy events in %v", app, h.ev.types(0))
		}
	}
	ev := h.ev.find("deploy.succeeded", "app")
	if ev.Data.Revision != sha || ev.Data.DeployID == "" || len(ev.Data.Changes) != 1 || ev.Data.Author != "Ada" {
		t.Errorf("deploy.succeeded data = %+v", ev.Data)
	}
	if ev.NATSSubject() != "driftless.deploy.succeeded.r.app" {
		t.Errorf("subject = %s", ev.NATSSubject())
	}
	// The output of network flowed into app's spec.
	if got := h.stack.live["app"]; !strings.Contains(got, "10.0.0.0/16") {
		t.Errorf("app applied with %q, want the network output in it", got)
	}
	hist, _ := h.store.History(context.Background(), "r", "app")
	if len(hist) != 1 || hist[0].Outcome != "succeeded" {
		t.Errorf("history = %+v", hist)
	}
}

func TestOnlyChangedAppIsPlanned(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", baseFiles())
	h.sync()
	plans0, _ := h.stack.counts()

	// Nothing moved: nothing is planned.
	h.sync()
	plans1, _ := h.stack.counts()
	if !reflect.DeepEqual(plans0, plans1) {
		t.Fatalf("an unchanged revision planned again: %v → %v", plans0, plans1)
	}
	// A commit outside every stack's inputs plans nothing, but moves the applied revision.
	sha := h.src.commit("docs", map[string]string{"README.md": "hello again"})
	h.sync()
	plans2, _ := h.stack.counts()
	if !reflect.DeepEqual(plans1, plans2) {
		t.Fatalf("a README commit planned stacks: %v → %v", plans1, plans2)
	}
	if st := h.state("dns"); st.AppliedRevision != sha || st.Status != state.StatusSynced {
		t.Errorf("dns after a README commit: %+v", st)
	}
	// A commit touching dns plans dns only.
	n := h.ev.len()
	h.src.commit("Change dns (#42)", map[string]string{"infra/dns/main.tf": "# dns v2"})
	h.sync()
	plans3, applies3 := h.stack.counts()
	if plans3["dns"] != plans2["dns"]+1 || plans3["network"] != plans2["network"] || plans3["app"] != plans2["app"] {
		t.Fatalf("plans after a dns commit: %v → %v", plans2, plans3)
	}
	if applies3["dns"] != 2 {
		t.Errorf("dns applies = %d, want 2", applies3["dns"])
	}
	ev := h.ev.find("deploy.succeeded", "dns")
	if ev == nil || ev.Data.PR != 42 || ev.Data.PreviousRevision != sha {
		t.Errorf("deploy.succeeded dns = %+v (events %v)", ev, h.ev.types(n))
	}
}

func TestManifestChangePlansTheApp(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", baseFiles())
	h.sync()
	plans0, _ := h.stack.counts()
	// Changing network's vars changes its output, so app is planned again too.
	h.src.commit("cidr", map[string]string{"deploy/stacks.hcl": strings.Replace(twoStacks, "10.0.0.0/16", "10.1.0.0/16", 1)})
	h.sync()
	plans1, applies := h.stack.counts()
	if plans1["network"] != plans0["network"]+1 || plans1["app"] != plans0["app"]+1 || plans1["dns"] != plans0["dns"] {
		t.Fatalf("plans: %v → %v", plans0, plans1)
	}
	if applies["app"] != 2 || !strings.Contains(h.stack.live["app"], "10.1.0.0/16") {
		t.Errorf("app was not re-applied with the new output: %v %q", applies, h.stack.live["app"])
	}
}

func TestInvalidRevisionKeepsLastGoodState(t *testing.T) {
	h := newHarness(t)
	good := h.src.commit("init", baseFiles())
	h.sync()
	n := h.ev.len()
	bad := h.src.commit("oops", map[string]string{
		"deploy/stacks.hcl": twoStacks + "\nstack \"broken\" {\n  path = \"../../etc\"\n}\nbogus \"x\" {}\n",
		"infra/dns/main.tf": "# dns v2",
	})
	h.sync()
	_, applies := h.stack.counts()
	if applies["dns"] != 1 {
		t.Errorf("an invalid revision applied dns (applies %v)", applies)
	}
	ev := h.ev.find("source.invalid", "")
	if ev == nil || ev.Data.Revision != bad {
		t.Fatalf("no source.invalid for %s: %v", bad, h.ev.types(n))
	}
	joined := strings.Join(ev.Data.Diagnostics, "\n")
	for _, want := range []string{"deploy/stacks.hcl:14:1: Missing path", "deploy/stacks.hcl:17:1: Unsupported block type"} {
		if !strings.Contains(joined, want) {
			t.Errorf("diagnostics %q lack %q", joined, want)
		}
	}
	if ev.NATSSubject() != "driftless.source.invalid.r" {
		t.Errorf("subject = %s", ev.NATSSubject())
	}
	if st := h.state("dns"); st.AppliedRevision != good {
		t.Errorf("dns applied revision moved to %s", st.AppliedRevision)
	}
	// Polling the same bad revision again does not announce it again.
	h.sync()
	invalids := 0
	for _, typ := range h.ev.types(n) {
		if typ == "source.invalid" {
			invalids++
		}
	}
	if invalids != 1 {
		t.Errorf("source.invalid announced %d times", invalids)
	}
	// A fixing commit recovers and applies the pending dns change.
	fixed := h.src.commit("fix", map[string]string{"deploy/stacks.hcl": twoStacks})
	h.sync()
	if st := h.state("dns"); st.AppliedRevision != fixed || st.Status != state.StatusSynced {
		t.Errorf("dns after the fix: %+v", st)
	}
	if _, applies := h.stack.counts(); applies["dns"] != 2 {
		t.Errorf("dns applies after the fix = %d, want 2", applies["dns"])
	}
}

func TestFailureBlocksDependentsAndRetriesWithBackoff(t *testing.T) {
	h := newHarness(t)
	h.stack.failApp["network"] = errors.New("AccessDenied: not allowed")
	h.src.commit("init", baseFiles())
	h.sync()
	if st := h.state("network"); st.Status != state.StatusFailed || !strings.Contains(st.LastError, "AccessDenied") {
		t.Fatalf("network = %+v", st)
	}
	if st := h.state("app"); st.Status != state.StatusOutOfSync || !strings.Contains(st.LastError, `dependency "network"`) {
		t.Errorf("app = %+v", st)
	}
	if _, applies := h.stack.counts(); applies["app"] != 0 || applies["dns"] != 1 {
		t.Errorf("applies = %v: app must wait for network, dns is independent", applies)
	}
	if ev := h.ev.find("deploy.failed", "network"); ev == nil || ev.Data.DeployID == "" {
		t.Errorf("no deploy.failed for network: %v", h.ev.types(0))
	}
	// Before the backoff expires nothing is retried.
	h.sync()
	if _, applies := h.stack.counts(); applies["network"] != 1 {
		t.Errorf("retried before the backoff: %v", applies)
	}
	// After it, the retry succeeds and app follows.
	delete(h.stack.failApp, "network")
	h.now = h.now.Add(2 * time.Minute)
	h.sync()
	if st := h.state("network"); st.Status != state.StatusSynced || st.LastError != "" {
		t.Errorf("network after retry = %+v", st)
	}
	if st := h.state("app"); st.Status != state.StatusSynced {
		t.Errorf("app after network recovered = %+v", st)
	}
}

func TestStalledFailureWaitsForNewRevision(t *testing.T) {
	h := newHarness(t)
	h.stack.failPlan["dns"] = appliers.Stalled(errors.New("Error: Invalid reference"))
	h.src.commit("init", baseFiles())
	h.sync()
	n := h.ev.len()
	h.now = h.now.Add(24 * time.Hour)
	h.sync()
	if plans, _ := h.stack.counts(); plans["dns"] != 1 {
		t.Errorf("a stalled app was planned again without a new revision: %v", plans)
	}
	if got := h.ev.types(n); len(got) != 0 {
		t.Errorf("events on an unchanged stalled app: %v", got)
	}
	delete(h.stack.failPlan, "dns")
	h.src.commit("fix dns", map[string]string{"infra/dns/main.tf": "# dns fixed"})
	h.sync()
	if st := h.state("dns"); st.Status != state.StatusSynced {
		t.Errorf("dns = %+v", st)
	}
}

func TestApprovalAppliesExactlyThePendingPlan(t *testing.T) {
	h := newHarness(t)
	files := baseFiles()
	files["deploy/stacks.hcl"] = "stack \"dns\" {\n  path = \"infra/dns\"\n  auto_apply = false\n}\n"
	h.src.commit("init", files)
	h.sync()
	st := h.state("dns")
	if st.Status != state.StatusAwaitingApproval || st.LastPlan == nil || !st.LastPlan.Changed {
		t.Fatalf("dns = %+v", st)
	}
	if h.ev.find("plan.awaiting_approval", "dns") == nil {
		t.Fatalf("no plan.awaiting_approval: %v", h.ev.types(0))
	}
	// Polling again does not re-plan or re-announce.
	h.sync()
	if plans, _ := h.stack.counts(); plans["dns"] != 1 {
		t.Errorf("re-planned while awaiting approval: %v", plans)
	}
	if _, err := h.c.Act(context.Background(), Action{Repo: "r", App: "dns", Action: "approve", Caller: "ops"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	plans, applies := h.stack.counts()
	if applies["dns"] != 1 || plans["dns"] != 1 {
		t.Fatalf("after approval plans=%v applies=%v, want the pending plan applied without re-planning", plans, applies)
	}
	if h.stack.applied[0].ID != st.LastPlan.ID {
		t.Errorf("applied plan %s, approved %s", h.stack.applied[0].ID, st.LastPlan.ID)
	}
	if st := h.state("dns"); st.Status != state.StatusSynced {
		t.Errorf("dns = %+v", st)
	}
	// Approving with nothing pending is refused.
	if _, err := h.c.Act(context.Background(), Action{Repo: "r", App: "dns", Action: "approve"}); !errors.Is(err, state.ErrConflict) {
		t.Errorf("approve with nothing pending: %v", err)
	}
}

func TestRestartReappliesNothingAndRecordsInterruptedDeploys(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", baseFiles())
	h.sync()
	_, before := h.stack.counts()
	// Simulate a crash in the middle of a dns deploy.
	_, err := h.store.Update(context.Background(), "r", "dns", func(s *state.AppState) error {
		s.InFlight = &state.DeployRecord{ID: "d1", Revision: s.AppliedRevision, StartedAt: h.now, Replica: "test"}
		s.Status = state.StatusProgressing
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.c = h.controller() // a new process with the same store
	h.c.recoverInterrupted(context.Background())
	if ev := h.ev.find("deploy.failed", "dns"); ev == nil || !strings.Contains(ev.Data.Error, "interrupted") {
		t.Errorf("no interrupted deploy.failed event: %v", h.ev.types(0))
	}
	hist, _ := h.store.History(context.Background(), "r", "dns")
	if len(hist) == 0 || hist[0].Outcome != "interrupted" {
		t.Errorf("history = %+v", hist)
	}
	h.sync()
	_, after := h.stack.counts()
	if !reflect.DeepEqual(before, after) {
		t.Errorf("restart re-applied: %v → %v", before, after)
	}
	if st := h.state("dns"); st.Status != state.StatusSynced || st.InFlight != nil {
		t.Errorf("dns after restart = %+v", st)
	}
}

func TestSuspendAndManualReconcile(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", baseFiles())
	h.sync()
	ctx := context.Background()
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "suspend"}); err != nil {
		t.Fatal(err)
	}
	h.src.commit("dns v2", map[string]string{"infra/dns/main.tf": "# dns v2"})
	h.sync()
	if _, applies := h.stack.counts(); applies["dns"] != 1 {
		t.Errorf("a suspended app was applied: %v", applies)
	}
	if st := h.state("dns"); st.Status != state.StatusSuspended || !st.Suspended {
		t.Errorf("dns = %+v", st)
	}
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "resume"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if _, applies := h.stack.counts(); applies["dns"] != 2 {
		t.Errorf("resume did not apply the pending change: %v", applies)
	}
	// A manual reconcile plans even when nothing changed.
	plans0, _ := h.stack.counts()
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "network", Action: "reconcile"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if plans1, _ := h.stack.counts(); plans1["network"] != plans0["network"]+1 {
		t.Errorf("manual reconcile did not plan: %v → %v", plans0, plans1)
	}
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "nope", Action: "reconcile"}); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
}

func TestSourceFailureAnnouncedOnce(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", baseFiles())
	h.sync()
	n := h.ev.len()
	h.src.err = errors.New("dial tcp: connection refused")
	for range 3 {
		_ = h.c.SyncOnce(context.Background(), "r")
	}
	var failed int
	for _, typ := range h.ev.types(n) {
		if typ == "source.failed" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("source.failed announced %d times, want once: %v", failed, h.ev.types(n))
	}
	h.src.err = nil
	h.sync()
	if ev := h.ev.find("source.updated", ""); ev == nil || ev.Data.Reason != "recovered" {
		t.Errorf("no recovery event: %v", h.ev.types(n))
	}
}

func TestTouches(t *testing.T) {
	cases := []struct {
		paths, inputs []string
		want          bool
	}{
		{[]string{"infra/net/main.tf"}, []string{"infra/net"}, true},
		{[]string{"infra/network/main.tf"}, []string{"infra/net"}, false},
		{[]string{"infra/net"}, []string{"infra/net"}, true},
		{[]string{"vars/prod.tfvars"}, []string{"infra/net", "vars/prod.tfvars"}, true},
		{[]string{"README.md"}, []string{"."}, true},
		{nil, []string{"."}, false},
	}
	for _, tc := range cases {
		if got := touches(tc.paths, tc.inputs); got != tc.want {
			t.Errorf("touches(%v, %v) = %v", tc.paths, tc.inputs, got)
		}
	}
}
