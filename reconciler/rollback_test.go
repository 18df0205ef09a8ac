package reconciler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/state"
)

func TestRollbackPinsAndQuarantines(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	v1 := h.src.commit("v1", baseFiles())
	h.sync()
	v2 := h.src.commit("v2 of dns (#7)", map[string]string{"infra/dns/main.tf": "# dns v2", "infra/app/main.tf": "# app v2"})
	h.sync()
	if !strings.Contains(h.stack.live["dns"], "dns v2") {
		t.Fatalf("v2 not live: %q", h.stack.live["dns"])
	}
	n := h.ev.len()
	st, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "rollback", Previous: true, Caller: "ops-alice"})
	if err != nil {
		t.Fatal(err)
	}
	if st.PinnedRevision != v1 || st.Status != state.StatusPinned {
		t.Fatalf("after rollback: %+v", st)
	}
	h.sync()
	if !strings.Contains(h.stack.live["dns"], "dns v1") {
		t.Fatalf("v1 not live again: %q", h.stack.live["dns"])
	}
	if !strings.Contains(h.stack.live["app"], "app v2") {
		t.Errorf("the rollback of dns touched app: %q", h.stack.live["app"])
	}
	if h.count("rollback.started", "dns", n) != 1 || h.count("rollback.succeeded", "dns", n) != 1 || h.count("deploy.started", "dns", n) != 0 {
		t.Errorf("events: %v", h.ev.types(n))
	}
	st = h.state("dns")
	if st.Status != state.StatusPinned || st.AppliedRevision != v1 || st.DesiredRevision != v2 || st.PinnedFrom != v2 {
		t.Errorf("pinned state: %+v", st)
	}
	hist, _ := h.store.History(ctx, "r", "dns")
	if hist[0].Reason != state.ReasonRollback || hist[0].Caller != "ops-alice" || hist[0].Revision != v1 {
		t.Errorf("history[0] = %+v", hist[0])
	}
	// Later polls keep v1: v2 does not come back.
	h.now = h.now.Add(20 * time.Second)
	h.sync()
	h.sync()
	if !strings.Contains(h.stack.live["dns"], "dns v1") {
		t.Fatalf("v2 came back while pinned")
	}
	// A commit touching only another app: dns stays pinned (the pin lifts only
	// with a commit newer than the quarantined head — this one is).
	v3 := h.src.commit("v3", map[string]string{"infra/dns/main.tf": "# dns v3"})
	h.sync()
	st = h.state("dns")
	if st.PinnedRevision != "" || st.AppliedRevision != v3 || !strings.Contains(h.stack.live["dns"], "dns v3") {
		t.Errorf("after v3: %+v live %q", st, h.stack.live["dns"])
	}
}

func TestRollbackToAndUnpin(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	v1 := h.src.commit("v1", baseFiles())
	h.sync()
	h.src.commit("v2", map[string]string{"infra/dns/main.tf": "# dns v2"})
	h.sync()
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "rollback", To: v1[:7]}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if !strings.Contains(h.stack.live["dns"], "dns v1") {
		t.Fatalf("not rolled back")
	}
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "unpin"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if st := h.state("dns"); st.PinnedRevision != "" || st.Status != state.StatusSynced || !strings.Contains(h.stack.live["dns"], "dns v2") {
		t.Errorf("after unpin: %+v %q", st, h.stack.live["dns"])
	}
	// Refusals.
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "unpin"}); !errors.Is(err, state.ErrConflict) {
		t.Errorf("unpin when not pinned: %v", err)
	}
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "rollback", To: "nope"}); !errors.Is(err, state.ErrBadRequest) {
		t.Errorf("unknown revision: %v", err)
	}
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "rollback"}); !errors.Is(err, state.ErrBadRequest) {
		t.Errorf("neither to nor previous: %v", err)
	}
}

func TestRevertCommitIsARollback(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	v1 := h.src.commit("v1", baseFiles())
	h.sync()
	h.src.commit("v2", map[string]string{"infra/dns/main.tf": "# dns v2"})
	h.sync()
	n := h.ev.len()
	if _, err := h.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "rollback", To: v1, Revert: true, Caller: "bob"}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if !strings.Contains(h.stack.live["dns"], "dns v1") {
		t.Fatalf("revert not applied: %q", h.stack.live["dns"])
	}
	if h.count("rollback.succeeded", "dns", n) != 1 {
		t.Errorf("events: %v", h.ev.types(n))
	}
	if st := h.state("dns"); st.PinnedRevision != "" || st.Status != state.StatusSynced {
		t.Errorf("a revert does not pin: %+v", st)
	}
	hist, _ := h.store.History(ctx, "r", "dns")
	if hist[0].Reason != state.ReasonRevert || hist[0].Caller != "bob" {
		t.Errorf("history[0] = %+v, want reason revert and caller bob", hist[0])
	}
}
