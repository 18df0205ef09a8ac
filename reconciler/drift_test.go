package reconciler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/state"
)

func (h *harness) count(typ, app string, from int) int {
	n := 0
	for _, s := range h.ev.types(from) {
		if s == strings.TrimSpace(typ+" "+app) {
			n++
		}
	}
	return n
}

func TestDriftLifecycle(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", baseFiles())
	h.sync()
	ctx := context.Background()
	n := h.ev.len()
	// Clean: a scan announces nothing.
	if err := h.c.ScanDrift(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if got := h.ev.types(n); len(got) != 0 {
		t.Fatalf("clean scan announced %v", got)
	}
	// An out-of-band change is announced once, with its content.
	h.stack.tamper("dns", "changed by hand")
	h.now = h.now.Add(time.Minute)
	_ = h.c.ScanDrift(ctx, "r")
	_ = h.c.ScanDrift(ctx, "r")
	if c := h.count("drift.detected", "dns", n); c != 1 {
		t.Fatalf("drift.detected %d times: %v", c, h.ev.types(n))
	}
	ev := h.ev.find("drift.detected", "dns")
	if len(ev.Data.Drift) != 1 || ev.Data.Drift[0].Address != "terraform_data.dns" || ev.Data.FirstSeen == nil {
		t.Errorf("drift event data = %+v", ev.Data)
	}
	first := *ev.Data.FirstSeen
	st := h.state("dns")
	if st.Status != state.StatusDrifted || st.Drift == nil {
		t.Errorf("dns = %+v", st)
	}
	// A scheduled sync does not re-apply a drifted app that is not self-healing.
	if _, applies := h.stack.counts(); applies["dns"] != 1 {
		t.Errorf("applies = %v", applies)
	}
	// A different drift is announced again, keeping the first-seen time.
	h.stack.tamper("dns", "changed again")
	h.now = h.now.Add(time.Minute)
	_ = h.c.ScanDrift(ctx, "r")
	if c := h.count("drift.detected", "dns", n); c != 2 {
		t.Fatalf("changed drift: drift.detected %d times", c)
	}
	if ev := h.ev.find("drift.detected", "dns"); !ev.Data.FirstSeen.Equal(first) {
		t.Errorf("first seen moved: %v → %v", first, ev.Data.FirstSeen)
	}
	// Put back by hand: resolved, once.
	h.stack.tamper("dns", h.stack.content(h.reqFor("dns")))
	_ = h.c.ScanDrift(ctx, "r")
	_ = h.c.ScanDrift(ctx, "r")
	if c := h.count("drift.resolved", "dns", n); c != 1 {
		t.Fatalf("drift.resolved %d times: %v", c, h.ev.types(n))
	}
	if st := h.state("dns"); st.Status != state.StatusSynced || st.Drift != nil {
		t.Errorf("dns after resolution = %+v", st)
	}
}

func TestDriftSelfHealAndSchedule(t *testing.T) {
	h := newHarness(t)
	files := baseFiles()
	files["deploy/stacks.hcl"] = "stack \"dns\" {\n  path = \"infra/dns\"\n  self_heal = true\n  drift_interval = \"10m\"\n}\nstack \"quiet\" {\n  path = \"infra/network\"\n  ignore_drift = [\"everything\"]\n}\n"
	h.src.commit("init", files)
	h.sync()
	n := h.ev.len()
	h.stack.tamper("dns", "changed by hand")
	h.stack.tamper("quiet", "changed by hand")
	// Not due yet.
	h.now = h.now.Add(5 * time.Minute)
	h.sync()
	if c := h.count("drift.detected", "dns", n); c != 0 {
		t.Fatalf("scanned before the interval")
	}
	h.now = h.now.Add(6 * time.Minute)
	h.sync() // scan: drift detected, self-heal queued
	if c := h.count("drift.detected", "dns", n); c != 1 {
		t.Fatalf("drift.detected %d: %v", c, h.ev.types(n))
	}
	if c := h.count("drift.detected", "quiet", n); c != 0 {
		t.Errorf("an ignored drift was announced")
	}
	h.sync() // self-heal deploy
	if _, applies := h.stack.counts(); applies["dns"] != 2 {
		t.Fatalf("self-heal did not re-apply: %v", applies)
	}
	if ev := h.ev.find("deploy.succeeded", "dns"); ev == nil || ev.Data.Reason != state.ReasonDrift {
		t.Errorf("self-heal deploy event = %+v", ev)
	}
}

func (h *harness) reqFor(app string) appliers.Request {
	st := h.state(app)
	rev, _ := h.src.Revision(context.Background(), st.AppliedRevision)
	d, _ := h.c.opt.Loader.Load("r", rev.Tree, "deploy")
	spec, _ := h.c.opt.Loader.Decode("r", rev.Tree, d, d.Apps[app], nil)
	return appliers.Request{Repo: "r", App: app, Revision: rev.SHA, Spec: spec, Tree: rev.Tree}
}
