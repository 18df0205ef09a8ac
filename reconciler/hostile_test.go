package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// panickyStack panics planning one app.
type panickyStack struct {
	*fakeStack
	app string
}

func (p *panickyStack) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	if req.App == p.app {
		var m map[string]int
		m["boom"]++ // a nil map write: a real runtime panic
	}
	return p.fakeStack.Plan(ctx, req)
}

// A panic in one app's reconcile fails that app (stalled, announced), and
// every other app and the loop go on.
func TestPanicInAnAppIsItsFailureNotTheProcesss(t *testing.T) {
	h := newHarness(t)
	ps := &panickyStack{fakeStack: h.stack, app: "dns"}
	h.c = h.controllerWith(ps)
	h.src.commit("init", baseFiles())
	h.sync()
	st := h.state("dns")
	if st.Status != state.StatusFailed || !strings.Contains(st.LastError, "internal error") || !st.RetryAt.IsZero() {
		t.Errorf("dns after a panic = status %s, error %q, retry %v; want failed, internal error, no retry", st.Status, st.LastError, st.RetryAt)
	}
	if ev := h.ev.find("deploy.failed", "dns"); ev == nil || !strings.Contains(ev.Data.Error, "internal error") {
		t.Errorf("no deploy.failed for the panic: %v", h.ev.types(0))
	}
	if st := h.state("network"); st.Status != state.StatusSynced {
		t.Errorf("network = %s, want synced despite dns's panic", st.Status)
	}
	h.sync() // the loop goes on; the stalled app is not retried
	if st := h.state("dns"); st.Status != state.StatusFailed {
		t.Errorf("dns = %s after another sync", st.Status)
	}
}

// A revision whose evaluation never ended (the controller was killed
// during it, twice) is rejected at the next start without being evaluated
// again; a rejected revision stays rejected across restarts.
func TestRevisionThatKilledTheControllerIsRejectedAfterRestarts(t *testing.T) {
	h := newHarness(t)
	good := h.src.commit("init", baseFiles())
	h.sync()
	files := baseFiles()
	files["infra/dns/main.tf"] = "# dns v2"
	bomb := h.src.commit("the bomb", files)
	// Two starts died while evaluating the bomb.
	rs, _ := h.store.Repo(context.Background(), "r")
	if rs.Good != good {
		t.Fatalf("remembered %+v, want the good revision %s", rs, good)
	}
	rs.Evaluating, rs.Attempts = bomb, 2
	if err := h.store.PutRepo(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	h.c = h.controller() // a new process
	h.sync()
	if _, applies := h.stack.counts(); applies["dns"] != 1 {
		t.Fatalf("the bomb's revision was deployed: %v", applies)
	}
	ev := h.ev.find("source.invalid", "")
	if ev == nil || ev.Data.Revision != bomb || !strings.Contains(ev.Data.Error, "stopped 2 times while evaluating") {
		t.Fatalf("source.invalid = %+v", ev)
	}
	if st := h.state("dns"); st.AppliedRevision != good || st.DesiredRevision != good || st.Status != state.StatusSynced {
		t.Errorf("dns = applied %s desired %s %s, want the last good %s kept and reconciled", st.AppliedRevision, st.DesiredRevision, st.Status, good)
	}
	if cur, _ := h.c.repos["r"].current(); cur == nil || cur.SHA != good {
		t.Errorf("the restarted controller's desired revision = %v, want the last good %s", cur, good)
	}
	n := h.ev.len()
	h.c = h.controller() // and again: still rejected, not evaluated, not announced again
	h.sync()
	if rs, _ := h.store.Repo(context.Background(), "r"); rs.Rejected != bomb || rs.Evaluating != "" {
		t.Errorf("remembered = %+v", rs)
	}
	for _, typ := range h.ev.types(n) {
		if strings.HasPrefix(typ, "source.invalid") || strings.HasPrefix(typ, "deploy.") {
			t.Errorf("after another restart: %v", h.ev.types(n))
			break
		}
	}
}

// A sensitive output stays masked where it flows: into another app that
// references it, that app's errors, state and events.
func TestSensitiveOutputsStayMasked(t *testing.T) {
	h := newHarness(t)
	red := redact.New()
	c, err := New(Options{Instance: "test", Loader: manifest.New(h.stack), Store: h.store, Events: h.ev,
		Scrub: red.String, AddSecrets: red.Add, Now: func() time.Time { return h.now }},
		[]Repo{{Name: "r", Path: "deploy", Interval: time.Minute, Source: h.src}})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	const secret = "hunter2-s3cret-value"
	files := baseFiles()
	files["deploy/stacks.hcl"] = `
stack "network" {
  path = "infra/network"
  vars = { secret_pw = "` + secret + `" }
}
stack "app" {
  path = "infra/app"
  vars = { pw = stack.network.outputs.secret_pw }
}
`
	h.stack.failPlan["app"] = errors.New("provider: login with password " + secret + " refused")
	h.src.commit("init", files)
	h.sync()
	st := h.state("app")
	if st.Status != state.StatusFailed || strings.Contains(st.LastError, secret) || !strings.Contains(st.LastError, redact.Mask) {
		t.Errorf("app's error = %q, want it failed with the sensitive output masked", st.LastError)
	}
	// The consumer's events (the producer's fake plan ids carry its
	// inputs, which here hold the value only to make it an output).
	for _, ev := range h.ev.all() {
		if ev.Data.App != "app" {
			continue
		}
		if b, _ := json.Marshal(ev); strings.Contains(string(b), secret) {
			t.Errorf("event %s carries the sensitive output: %s", ev.Type, b)
		}
	}
}
