package reconciler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// TestChangedFirst: a pass starts the apps a commit changed before the
// others, each group in dependency order; with no last pass, d.Order.
func TestChangedFirst(t *testing.T) {
	a, b, c, d2 := &manifest.App{Name: "a"}, &manifest.App{Name: "b"}, &manifest.App{Name: "c"}, &manifest.App{Name: "d"}
	last := &manifest.Desired{Apps: map[string]*manifest.App{"a": a, "b": b, "c": c, "d": d2}, Order: []string{"a", "b", "c", "d"}}
	now := &manifest.Desired{Apps: map[string]*manifest.App{"a": a, "b": {Name: "b"}, "c": c, "d": {Name: "d"}, "e": {Name: "e"}},
		Order: []string{"a", "b", "c", "d", "e"}}
	if got, want := changedFirst(now, last), []string{"b", "d", "e", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("changedFirst = %v, want %v", got, want)
	}
	if got := changedFirst(now, nil); !slices.Equal(got, now.Order) {
		t.Errorf("changedFirst with no last pass = %v, want %v", got, now.Order)
	}
}

// TestUnchangedDependentWaitsForChangedDependency: an app the commit did
// not touch, which the pass decides from memory, still waits for a
// dependency the commit changed: when that dependency fails, the
// dependent is not reported synced at the new head, nor planned; when it
// deploys, the dependent ends synced there.
func TestUnchangedDependentWaitsForChangedDependency(t *testing.T) {
	h := newHarness(t)
	files := map[string]string{
		"deploy/stacks.hcl": `stack "net" {
  path = "infra/net"
}
stack "app" {
  path       = "infra/app"
  depends_on = [stack.net]
}
`,
		"infra/net/main.tf": "# net v1",
		"infra/app/main.tf": "# app v1",
	}
	for i := range 20 { // unchanged apps decided from memory around them
		name := fmt.Sprintf("x%02d", i)
		files["deploy/stacks.hcl"] += fmt.Sprintf("stack %q {\n  path = \"infra/%s\"\n}\n", name, name)
		files["infra/"+name+"/main.tf"] = "# " + name
	}
	h.src.commit("init", files)
	h.sync()
	h.sync() // a second pass: the next one trusts what this one remembers
	if e := h.ev.find("source.invalid", ""); e != nil {
		t.Fatalf("manifest rejected: %+v", e.Data)
	}
	if st := h.state("app"); st.Status != state.StatusSynced {
		t.Fatalf("app after the first sync = %s, want synced", st.Status)
	}
	plans0, _ := h.stack.counts()

	h.stack.failPlan["net"] = fmt.Errorf("boom")
	bad := h.src.commit("Break net", map[string]string{"infra/net/main.tf": "# net v2"})
	h.sync()
	if st := h.state("net"); st.Status != state.StatusFailed {
		t.Errorf("net = %s, want failed", st.Status)
	}
	if st := h.state("app"); st.Status == state.StatusSynced && st.DesiredRevision == bad {
		t.Errorf("app is synced at %.7s though its dependency failed there: %+v", bad, st)
	}
	plans1, _ := h.stack.counts()
	if plans1["app"] != plans0["app"] {
		t.Errorf("app was planned %d times while its dependency failed", plans1["app"]-plans0["app"])
	}
	if st := h.state("x00"); st.Status != state.StatusSynced {
		t.Errorf("x00 (independent) = %s, want synced", st.Status)
	}

	delete(h.stack.failPlan, "net")
	fixed := h.src.commit("Fix net", map[string]string{"infra/net/main.tf": "# net v3"})
	h.sync()
	for _, app := range []string{"net", "app", "x00"} {
		if st := h.state(app); st.Status != state.StatusSynced || st.DesiredRevision != fixed {
			t.Errorf("%s after the fix = %s at %.7s, want synced at %.7s", app, st.Status, st.DesiredRevision, fixed)
		}
	}
}
