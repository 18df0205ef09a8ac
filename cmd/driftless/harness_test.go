package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// This file is the harness of the end-to-end tests: a daemon started
// in-process with startDaemon from a real config file, talked to over its
// real HTTP API and its embedded NATS server.

type syncBuffer = testenv.LogBuffer

// e2e is one daemon under test.
type e2e struct {
	t     *testing.T
	cfg   *config.Config
	d     *daemon
	logs  *syncBuffer
	base  string // http://127.0.0.1:PORT
	js    jetstream.JetStream
	token string // the API token, when the config has one

	stopOnce sync.Once
	done     chan error
	cancel   context.CancelFunc
}

// mapEnv backs env() in configs with a fixed map.
func mapEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startE2E loads the config at cfgPath (env() reads env) and starts a
// daemon from it, logging at debug level into a buffer. It is stopped when
// the test ends, or earlier with stop.
func startE2E(t *testing.T, cfgPath string, env map[string]string) *e2e {
	t.Helper()
	src, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(src, cfgPath, mapEnv(env))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h := &e2e{t: t, cfg: cfg, logs: &syncBuffer{}, done: make(chan error, 1), token: cfg.APIToken.Value()}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	d, err := startDaemon(ctx, cfg, h.logs, slog.LevelDebug)
	if err != nil {
		cancel()
		t.Fatalf("startDaemon: %v\nlogs:\n%s", err, h.logs)
	}
	h.d = d
	go func() { h.done <- d.wait() }()
	t.Cleanup(h.stop)
	h.base = "http://" + d.httpAddr
	nc, js, err := d.connectNATS(ctx, "e2e-test")
	if err != nil {
		t.Fatalf("connecting to the daemon's NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	h.js = js
	return h
}

// stop shuts the daemon down and waits for it; it fails the test when the
// daemon does not stop within 30 s or stopped with an error.
func (h *e2e) stop() {
	h.stopOnce.Do(func() {
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("daemon stopped with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			h.t.Errorf("daemon did not stop within 30s")
		}
		// Every log line is one JSON object without a duplicate key.
		if bad := testenv.CheckJSONLines(h.logs.String()); len(bad) > 0 {
			h.t.Errorf("%d daemon log lines are not JSON objects with unique keys, e.g.:\n%s", len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"))
		}
		if h.t.Failed() {
			h.t.Logf("daemon log (tail):\n%s", tail(h.logs.String(), 60))
		}
		// DRIFTLESS_E2E_LOGS=DIR keeps every daemon's whole log.
		if dir := os.Getenv("DRIFTLESS_E2E_LOGS"); dir != "" {
			name := strings.ReplaceAll(h.t.Name(), "/", "_") + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".log"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(h.logs.String()), 0o644); err != nil {
				h.t.Logf("keeping the daemon log: %v", err)
			}
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// do sends a request to the daemon's API and returns status and body.
func (h *e2e) do(method, path, token string, body io.Reader) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

func (h *e2e) get(path string) (int, []byte) {
	h.t.Helper()
	return h.do(http.MethodGet, path, "", nil)
}

// apps returns GET /api/v1/apps keyed by REPO/APP.
func (h *e2e) apps() map[string]state.AppState {
	h.t.Helper()
	code, b := h.get("/api/v1/apps")
	if code != http.StatusOK {
		h.t.Fatalf("GET /api/v1/apps: %d %s", code, b)
	}
	var list []state.AppState
	if err := json.Unmarshal(b, &list); err != nil {
		h.t.Fatalf("GET /api/v1/apps: %v\n%s", err, b)
	}
	m := map[string]state.AppState{}
	for _, a := range list {
		m[a.Repo+"/"+a.App] = a
	}
	return m
}

// waitFor polls cond every 100 ms until it holds, failing the test with
// what after timeout.
func (h *e2e) waitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(h.apps(), "", "  ")
			h.t.Fatalf("timed out after %s waiting for %s\napps: %s\nevents:\n%s\nlog (tail):\n%s",
				timeout, what, b, eventList(h.events()), tail(h.logs.String(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSynced waits until every app is synced with rev applied.
func (h *e2e) waitSynced(rev string, apps ...string) map[string]state.AppState {
	h.t.Helper()
	return h.waitSyncedWithin(90*time.Second, rev, apps...)
}

// waitSyncedWithin is waitSynced with a timeout.
func (h *e2e) waitSyncedWithin(timeout time.Duration, rev string, apps ...string) map[string]state.AppState {
	h.t.Helper()
	var m map[string]state.AppState
	h.waitFor(timeout, fmt.Sprintf("%v synced at %.7s", apps, rev), func() bool {
		m = h.apps()
		for _, a := range apps {
			if s := m[a]; s.Status != state.StatusSynced || s.AppliedRevision != rev {
				return false
			}
		}
		return true
	})
	// The state is recorded before the deploy is announced: wait for the
	// announcement of each app's latest deploy too, so callers can read it.
	h.waitFor(timeout, fmt.Sprintf("%v deploy events at %.7s", apps, rev), func() bool {
		evs := h.events()
		for _, a := range apps {
			d := m[a].LastDeploy
			if d == nil || d.Revision != rev || d.Outcome != "succeeded" {
				continue
			}
			found := false
			for _, ev := range evs {
				if ev.Data.DeployID == d.ID && ev.Action() == "succeeded" {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	return m
}

// events returns every event the stream holds, oldest first.
func (h *e2e) events() []notify.Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var evs []notify.Event
	err := notify.Follow(ctx, h.js, notify.FollowOptions{}, func(ev notify.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		h.t.Fatalf("reading events: %v", err)
	}
	return evs
}

// eventType is "category.action" of an event.
func eventType(ev notify.Event) string { return ev.Category() + "." + ev.Action() }

// filter returns the events of type typ ("deploy.started") and subject
// (REPO or REPO/APP; "" for any).
func filter(evs []notify.Event, typ, subject string) []notify.Event {
	var out []notify.Event
	for _, ev := range evs {
		if eventType(ev) == typ && (subject == "" || ev.Subject == subject) {
			out = append(out, ev)
		}
	}
	return out
}

// indexOf is the position of the first event of typ and subject at
// revision rev ("" for any), or -1.
func indexOf(evs []notify.Event, typ, subject, rev string) int {
	for i, ev := range evs {
		if eventType(ev) == typ && ev.Subject == subject && (rev == "" || ev.Data.Revision == rev) {
			return i
		}
	}
	return -1
}

func eventList(evs []notify.Event) string {
	var b strings.Builder
	for i, ev := range evs {
		fmt.Fprintf(&b, "  %2d %-26s %-18s %.7s %s\n", i, eventType(ev), ev.Subject, ev.Data.Revision, firstLineOf(ev.Data.Error))
	}
	return b.String()
}

// metric sums every series of a Prometheus metric on /metrics.
func (h *e2e) metric(name string) float64 {
	h.t.Helper()
	code, b := h.get("/metrics")
	if code != http.StatusOK {
		h.t.Fatalf("GET /metrics: %d", code)
	}
	return sumMetric(string(b), name)
}

func sumMetric(text, name string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// Stacks of the controller-logic scenarios: built-in terraform_data
// resources, no provider, a plan in well under a second.
const (
	stacksHCL = `stack "network" {
  path = "infra/network"
}

stack "app" {
  path       = "infra/app"
  depends_on = [stack.network]
  vars = {
    x = stack.network.outputs.name
  }
}
`
	networkTF = `resource "terraform_data" "net" {
  input = "net-1"
}

output "name" {
  value = terraform_data.net.output
}
`
	appTFv1 = `variable "x" {
  type = string
}

resource "terraform_data" "app" {
  input = "${var.x}/v1"
}
`
)

// newStacksRepo is a Git repo with the network and app stacks, committed.
func newStacksRepo(t *testing.T) (*testenv.GitRepo, string) {
	t.Helper()
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", stacksHCL)
	g.Write("infra/network/main.tf", networkTF)
	g.Write("infra/app/main.tf", appTFv1)
	return g, g.Commit("Initial platform")
}

// daemonConfig is a controller config for one repo "platform" polled every
// second, on a free port, with state in stateDir. extra is appended.
func daemonConfig(t *testing.T, stateDir, repoURL, extra string) string {
	t.Helper()
	return fmt.Sprintf(`state_dir = %q
listen    = "127.0.0.1:0"
instance  = "e2e"
api_token = env("DRIFTLESS_API_TOKEN")

terraform {
  binary = %q
}

repo "platform" {
  url            = %q
  path           = "deploy"
  interval       = "1s"
  drift_interval = "0"
}
%s`, stateDir, testenv.TerraformBinary(t), repoURL, extra)
}

// replaceOnce replaces the first old in s, which must be there.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in %q", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

// testToken is the API token of the e2e configs.
const testToken = "e2e-api-token-0123456789"

// startStacks makes the stacks repo and starts a daemon on it; it returns
// the harness, the repo, the config path and the first commit.
func startStacks(t *testing.T) (*e2e, *testenv.GitRepo, string, string) {
	t.Helper()
	testenv.Short(t)
	g, rev := newStacksRepo(t)
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""))
	h := startE2E(t, cfgPath, map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	return h, g, cfgPath, rev
}
