package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// fakeAPI serves one app awaiting approval and records approve bodies.
type fakeAPI struct {
	mu     sync.Mutex
	bodies []map[string]any
	app    state.AppState
}

func (f *fakeAPI) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/apps/platform/gated", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(f.app)
	})
	mux.HandleFunc("POST /api/v1/apps/platform/gated/approve", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("approve body %q: %v", b, err)
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, m)
		f.mu.Unlock()
		if m["plan_id"] != f.app.LastPlan.ID {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":"refused: the plan awaiting approval is `+f.app.LastPlan.ID+` (by Mallory\u001b]0;pwned\u0007)"}`)
			return
		}
		st := f.app
		st.Status = "out_of_sync"
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}

func TestCLIApproveNamesThePlan(t *testing.T) {
	f := &fakeAPI{app: state.AppState{Repo: "platform", App: "gated", Status: state.StatusAwaitingApproval,
		LastPlan: &state.PlanRecord{ID: "plan-7f3a", Revision: "9fceb02aa", Changed: true, Summary: "1 to add\x1b[2J"}}}
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	t.Setenv("DRIFTLESS_API_TOKEN", "tok")

	code, out, errOut := runCLI(t, "approve", "platform/gated", "--server", srv.URL)
	if code != exitOK || !strings.Contains(out, "approving plan plan-7f3a of platform/gated at 9fceb02: 1 to add\\x1b[2J") ||
		!strings.Contains(out, "approve accepted") || strings.Contains(out, "\x1b") {
		t.Errorf("approve = %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "approve", "platform/gated", "--plan", "plan-old", "--server", srv.URL)
	if code != exitError || !strings.Contains(errOut, "the plan awaiting approval is plan-7f3a") || strings.Contains(errOut, "\x1b") ||
		!strings.Contains(errOut, `Mallory\x1b]0;pwned\x07`) {
		t.Errorf("approve --plan plan-old = %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) != 2 || f.bodies[0]["plan_id"] != "plan-7f3a" || f.bodies[1]["plan_id"] != "plan-old" {
		t.Errorf("approve bodies = %v", f.bodies)
	}
	if code, _, errOut := runCLI(t, "reconcile", "platform/gated", "--plan", "x", "--server", srv.URL); code != exitUsage || !strings.Contains(errOut, "approve only") {
		t.Errorf("reconcile --plan = %d %q", code, errOut)
	}
}

func TestCLIEventLineEscapesControlCharacters(t *testing.T) {
	ev := notify.Event{Type: "io.driftless.deploy.succeeded", Subject: "platform/web", Time: time.Now()}
	ev.Data.Revision = "9fceb02aa"
	ev.Data.Author = "Mallory\x1b]0;pwned\x07"
	ev.Data.Summary = "image nginx:1.28\r\x1b[2K"
	ev.Data.Error = "boom\x9b"
	line := formatEvent(ev)
	if strings.ContainsAny(line, "\x1b\x07\r") || !strings.Contains(line, `by Mallory\x1b]0;pwned\x07`) || !strings.Contains(line, `nginx:1.28\r\x1b[2K`) {
		t.Errorf("event line %q", line)
	}
}
