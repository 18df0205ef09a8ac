package reconciler

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/driftless/driftless/state"
)

func TestApprovalRefusedAfterACommitTouchingTheApp(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	files := baseFiles()
	files["deploy/stacks.hcl"] = "stack \"dns\" {\n  path = \"infra/dns\"\n  auto_apply = false\n}\n"
	h.src.commit("init", files)
	h.sync()
	if st := h.state("dns"); st.Status != state.StatusAwaitingApproval {
		t.Fatalf("dns = %+v", st)
	}
	// A commit that does not touch dns: the pending plan is still current.
	h.src.commit("docs", map[string]string{"README.md": "more"})
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "approve"}); err != nil {
		t.Fatalf("approve after an unrelated commit: %v", err)
	}
	h.sync()
	if _, applies := h.stack.counts(); applies["dns"] != 1 {
		t.Fatalf("approved plan not applied: %v", applies)
	}
	// A new change awaits approval; then a commit touching dns lands before
	// the approval: it is refused with a clear message, nothing is applied,
	// and the newest revision's plan awaits approval instead.
	h.src.commit("dns v2", map[string]string{"infra/dns/main.tf": "# dns v2"})
	h.sync()
	old := h.state("dns").LastPlan
	newest := h.src.commit("dns v3", map[string]string{"infra/dns/main.tf": "# dns v3"})
	_, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "approve"})
	if !errors.Is(err, state.ErrConflict) || !strings.Contains(err.Error(), "landed after the plan awaiting approval") {
		t.Fatalf("approve of a stale plan: %v", err)
	}
	h.sync()
	if _, applies := h.stack.counts(); applies["dns"] != 1 {
		t.Fatalf("a stale plan was applied: %v", applies)
	}
	st := h.state("dns")
	if st.Status != state.StatusAwaitingApproval || st.LastPlan.Revision != newest || st.LastPlan.ID == old.ID {
		t.Fatalf("after the refusal: %+v (plan %+v)", st, st.LastPlan)
	}
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "approve"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if !strings.Contains(h.stack.live["dns"], "dns v3") {
		t.Errorf("the newest plan was not applied: %q", h.stack.live["dns"])
	}
}

// An approval names the plan the approver saw: another id is refused with
// the current one; the named plan is applied; and when the plan is no
// longer in this replica's memory (another replica planned it, or a
// restart), a new plan is applied only if it is that very plan.
func TestApprovalNamesThePlan(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	files := baseFiles()
	files["deploy/stacks.hcl"] = "stack \"dns\" {\n  path = \"infra/dns\"\n  auto_apply = false\n}\n"
	h.src.commit("init", files)
	h.sync()
	pending := h.state("dns").LastPlan
	_, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "approve", PlanID: "not-the-plan"})
	if !errors.Is(err, state.ErrConflict) || !strings.Contains(err.Error(), pending.ID) {
		t.Fatalf("approve with another plan id: %v, want a conflict naming %s", err, pending.ID)
	}
	h.sync()
	if _, applies := h.stack.counts(); applies["dns"] != 0 {
		t.Fatalf("applied after a refused approval: %v", applies)
	}
	// The pending plan is lost from memory; the approval of its id still
	// applies a fresh plan with the same id, once.
	h.c.takePending("r", "dns")
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "approve", PlanID: pending.ID, Caller: "ops"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	plans, applies := h.stack.counts()
	if applies["dns"] != 1 || plans["dns"] != 2 {
		t.Fatalf("plans=%v applies=%v: want the plan made again and applied once", plans, applies)
	}
	if h.stack.applied[0].ID != pending.ID {
		t.Errorf("applied plan %s, approved %s", h.stack.applied[0].ID, pending.ID)
	}
	if st := h.state("dns"); st.Status != state.StatusSynced || st.LastDeploy.Reason != state.ReasonApproved || st.LastDeploy.Caller != "ops" {
		t.Errorf("after the approval dns = %+v", st.LastDeploy)
	}
}
