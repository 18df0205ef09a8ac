package api

import (
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/state"

	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/config"
)

const testToken = "tok-4f9a-s3cr3t"

// fakeController serves fixed apps and records the actions it is asked for.
type fakeController struct {
	mu      sync.Mutex
	apps    []state.AppState
	history map[string][]state.DeployRecord
	actions []ActionRequest
	actErr  error
	ready   bool
	why     string
}

func (f *fakeController) Apps(context.Context) ([]state.AppState, error) { return f.apps, nil }

func (f *fakeController) App(_ context.Context, repo, app string) (state.AppState, error) {
	for _, a := range f.apps {
		if a.Repo == repo && a.App == app {
			return a, nil
		}
	}
	return state.AppState{}, fmt.Errorf("app %s/%s: %w", repo, app, state.ErrNotFound)
}

func (f *fakeController) History(ctx context.Context, repo, app string) ([]state.DeployRecord, error) {
	if _, err := f.App(ctx, repo, app); err != nil {
		return nil, err
	}
	return f.history[repo+"/"+app], nil
}

func (f *fakeController) Act(ctx context.Context, req ActionRequest) (state.AppState, error) {
	f.mu.Lock()
	f.actions = append(f.actions, req)
	f.mu.Unlock()
	if f.actErr != nil {
		return state.AppState{}, f.actErr
	}
	st, err := f.App(ctx, req.Repo, req.App)
	if err != nil {
		return st, err
	}
	st.Status = "acted-" + req.Action
	return st, nil
}

func (f *fakeController) Ready() (bool, string) { return f.ready, f.why }

func (f *fakeController) recorded() []ActionRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ActionRequest(nil), f.actions...)
}

// fakeHooks is a WebhookTarget with one watched repo.
type fakeHooks struct {
	mu        sync.Mutex
	secrets   map[string]string
	urls      map[string]string // clone URL -> repo
	branch    string
	triggered []string
}

func (h *fakeHooks) WebhookSecret(repo string) ([]byte, bool) {
	s, ok := h.secrets[repo]
	return []byte(s), ok
}

func (h *fakeHooks) WebhookSecrets() map[string][]byte {
	m := map[string][]byte{}
	for repo, s := range h.secrets {
		if s != "" {
			m[repo] = []byte(s)
		}
	}
	return m
}

func (h *fakeHooks) RepoForPush(urls []string, ref string) (string, bool) {
	if ref != "refs/heads/"+h.branch {
		return "", false
	}
	for _, u := range urls {
		if r, ok := h.urls[u]; ok {
			return r, true
		}
	}
	return "", false
}

func (h *fakeHooks) Trigger(repo string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.triggered = append(h.triggered, repo)
}

func (h *fakeHooks) trig() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.triggered...)
}

type fixture struct {
	ctl   *fakeController
	hooks *fakeHooks
	srv   *httptest.Server
	logs  *syncBuffer
}

type syncBuffer = testenv.LogBuffer

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func newFixture(t *testing.T, token string) *fixture {
	t.Helper()
	f := &fixture{
		ctl: &fakeController{
			ready: true,
			apps: []state.AppState{
				{Repo: "platform", App: "web", Kind: "ecs_service", Status: state.StatusSynced,
					DesiredRevision: "0123456789abcdef", AppliedRevision: "0123456789abcdef", UpdatedAt: t0},
				{Repo: "platform", App: "network", Kind: "stack", Status: state.StatusFailed,
					LastError: `<script>alert("x")</script>`, UpdatedAt: t0},
			},
			history: map[string][]state.DeployRecord{
				"platform/web": {{ID: "d1", Revision: "0123456789abcdef", Author: "alice", PR: 7, Outcome: "succeeded", StartedAt: t0}},
			},
		},
		hooks: &fakeHooks{
			secrets: map[string]string{"platform": "whsec-s3cr3t", "nosecret": ""},
			urls: map[string]string{
				"https://github.com/acme/platform.git": "platform",
				"https://github.com/acme/nosecret.git": "nosecret",
			},
			branch: "main",
		},
		logs: &syncBuffer{},
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "driftless_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(3)
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New(f.ctl, f.hooks, config.Secret(token), reg, log)
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(t *testing.T, method, path, auth, body string, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func errorOf(t *testing.T, r resp) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
		t.Fatalf("body is not a JSON error: %q", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return e.Error
}

func TestReadEndpoints(t *testing.T) {
	f := newFixture(t, testToken)
	cases := []struct {
		name, path string
		status     int
		contains   string
	}{
		{"healthz", "/healthz", 200, "ok"},
		{"readyz", "/readyz", 200, "ok"},
		{"metrics", "/metrics", 200, "driftless_test_total 3"},
		{"apps", "/api/v1/apps", 200, `"desired_revision": "0123456789abcdef"`},
		{"app", "/api/v1/apps/platform/web", 200, `"kind": "ecs_service"`},
		{"history", "/api/v1/apps/platform/web/history", 200, `"author": "alice"`},
		{"empty history", "/api/v1/apps/platform/network/history", 200, `[]`},
		{"unknown app", "/api/v1/apps/platform/nope", 404, `"error":"app platform/nope: not found"`},
		{"unknown app history", "/api/v1/apps/platform/nope/history", 404, `not found`},
		{"bad name", "/api/v1/apps/Platform/web", 400, `invalid name`},
		{"no route", "/api/v2/x", 404, `"error":"no such endpoint: GET /api/v2/x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "GET", c.path, "", "", nil)
			if r.status != c.status || !strings.Contains(r.body, c.contains) {
				t.Fatalf("GET %s = %d %q; want %d containing %q", c.path, r.status, r.body, c.status, c.contains)
			}
			if c.status >= 400 {
				errorOf(t, r)
			}
		})
	}

	// The app objects carry the fields of the README's app object.
	r := f.do(t, "GET", "/api/v1/apps", "", "", nil)
	var apps []map[string]any
	if err := json.Unmarshal([]byte(r.body), &apps); err != nil || len(apps) != 2 {
		t.Fatalf("apps: %v %q", err, r.body)
	}
	for _, k := range []string{"repo", "app", "kind", "status", "desired_revision", "applied_revision", "pinned_revision", "suspended", "last_error", "updated_at"} {
		if _, ok := apps[0][k]; !ok {
			t.Errorf("app object lacks %q", k)
		}
	}
}

func TestNotReady(t *testing.T) {
	f := newFixture(t, testToken)
	f.ctl.ready, f.ctl.why = false, "nats: connecting"
	r := f.do(t, "GET", "/readyz", "", "", nil)
	if r.status != 503 || !strings.Contains(r.body, "nats: connecting") {
		t.Fatalf("readyz = %d %q", r.status, r.body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, testToken)
	r := f.do(t, "DELETE", "/api/v1/apps", "", "", nil)
	if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "GET") {
		t.Fatalf("DELETE apps = %d allow=%q", r.status, r.header.Get("Allow"))
	}
	errorOf(t, r)
}

func TestActions(t *testing.T) {
	cases := []struct {
		action, body string
		want         ActionRequest
	}{
		{"reconcile", "", ActionRequest{Action: "reconcile", Caller: "api"}},
		{"rollback", `{"to": "abc1234", "caller": "ops@laptop"}`, ActionRequest{Action: "rollback", To: "abc1234", Caller: "ops@laptop"}},
		{"rollback", `{"previous": true, "revert": true}`, ActionRequest{Action: "rollback", Previous: true, Revert: true, Caller: "api"}},
		{"unpin", "{}", ActionRequest{Action: "unpin", Caller: "api"}},
		{"approve", "", ActionRequest{Action: "approve", Caller: "api"}},
		{"approve", `{"plan_id": "p-42", "caller": "carol"}`, ActionRequest{Action: "approve", PlanID: "p-42", Caller: "carol"}},
		{"suspend", `{"caller":"bob"}`, ActionRequest{Action: "suspend", Caller: "bob"}},
		{"resume", "", ActionRequest{Action: "resume", Caller: "api"}},
	}
	for _, c := range cases {
		t.Run(c.action, func(t *testing.T) {
			f := newFixture(t, testToken)
			r := f.do(t, "POST", "/api/v1/apps/platform/web/"+c.action, "Bearer "+testToken, c.body, nil)
			if r.status != 200 {
				t.Fatalf("status %d %q", r.status, r.body)
			}
			var st state.AppState
			if err := json.Unmarshal([]byte(r.body), &st); err != nil || st.Status != "acted-"+c.action {
				t.Fatalf("response %q (%v)", r.body, err)
			}
			want := c.want
			want.Repo, want.App = "platform", "web"
			if got := f.ctl.recorded(); len(got) != 1 || got[0] != want {
				t.Fatalf("actions = %+v, want [%+v]", got, want)
			}
		})
	}
}

func TestActionErrors(t *testing.T) {
	big := `{"caller": "` + strings.Repeat("x", MaxActionBody) + `"}`
	cases := []struct {
		name, path, auth, body string
		token                  string
		actErr                 error
		status                 int
		contains               string
		acted                  bool
	}{
		{"no token", "/api/v1/apps/platform/web/reconcile", "", "", testToken, nil, 401, "missing or invalid bearer token", false},
		{"wrong token", "/api/v1/apps/platform/web/reconcile", "Bearer wrong", "", testToken, nil, 401, "missing or invalid bearer token", false},
		{"token prefix", "/api/v1/apps/platform/web/reconcile", "Bearer " + testToken[:5], "", testToken, nil, 401, "invalid", false},
		{"basic auth", "/api/v1/apps/platform/web/reconcile", "Basic " + testToken, "", testToken, nil, 401, "invalid", false},
		{"no api_token configured", "/api/v1/apps/platform/web/reconcile", "Bearer anything", "", "", nil, 403, "set api_token", false},
		{"no token, unknown action", "/api/v1/apps/platform/web/explode", "", "", testToken, nil, 401, "invalid", false},
		{"unknown action", "/api/v1/apps/platform/web/explode", "Bearer " + testToken, "", testToken, nil, 404, `unknown action \"explode\"`, false},
		{"too large", "/api/v1/apps/platform/web/reconcile", "Bearer " + testToken, big, testToken, nil, 413, "exceeds 65536 bytes", false},
		{"bad json", "/api/v1/apps/platform/web/reconcile", "Bearer " + testToken, "{", testToken, nil, 400, "invalid JSON body", false},
		{"unknown field", "/api/v1/apps/platform/web/reconcile", "Bearer " + testToken, `{"force": true}`, testToken, nil, 400, "unknown field", false},
		{"rollback without target", "/api/v1/apps/platform/web/rollback", "Bearer " + testToken, "", testToken, nil, 400, "rollback needs", false},
		{"rollback with both", "/api/v1/apps/platform/web/rollback", "Bearer " + testToken, `{"to":"a","previous":true}`, testToken, nil, 400, "not both", false},
		{"to on reconcile", "/api/v1/apps/platform/web/reconcile", "Bearer " + testToken, `{"to":"a"}`, testToken, nil, 400, "rollback only", false},
		{"plan_id on reconcile", "/api/v1/apps/platform/web/reconcile", "Bearer " + testToken, `{"plan_id":"p-1"}`, testToken, nil, 400, "approve only", false},
		{"approve another plan", "/api/v1/apps/platform/web/approve", "Bearer " + testToken, `{"plan_id":"p-1"}`, testToken, fmt.Errorf("%w: refused: you approved plan p-1, but the plan awaiting approval is p-2", state.ErrConflict), 409, "is p-2", true},
		{"unknown app", "/api/v1/apps/platform/nope/reconcile", "Bearer " + testToken, "", testToken, nil, 404, "not found", true},
		{"conflict", "/api/v1/apps/platform/web/approve", "Bearer " + testToken, "", testToken, fmt.Errorf("plan is stale: %w", state.ErrConflict), 409, "plan is stale", true},
		{"bad request", "/api/v1/apps/platform/web/unpin", "Bearer " + testToken, "", testToken, fmt.Errorf("not pinned: %w", state.ErrBadRequest), 400, "not pinned", true},
		{"internal", "/api/v1/apps/platform/web/unpin", "Bearer " + testToken, "", testToken, errors.New("kv down"), 500, "kv down", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.token)
			f.ctl.actErr = c.actErr
			r := f.do(t, "POST", c.path, c.auth, c.body, nil)
			if r.status != c.status {
				t.Fatalf("status %d %q, want %d", r.status, r.body, c.status)
			}
			if msg := errorOf(t, r); !strings.Contains(r.body, c.contains) {
				t.Errorf("error %q does not contain %q", msg, c.contains)
			}
			if acted := len(f.ctl.recorded()) > 0; acted != c.acted {
				t.Errorf("controller acted = %v, want %v (%+v)", acted, c.acted, f.ctl.recorded())
			}
		})
	}
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestGitHubWebhook(t *testing.T) {
	push := func(url, ref string) string {
		return fmt.Sprintf(`{"ref": %q, "after": "abc", "repository": {"clone_url": %q, "ssh_url": "git@github.com:acme/x.git", "html_url": "https://github.com/acme/x"}}`, ref, url)
	}
	good := push("https://github.com/acme/platform.git", "refs/heads/main")
	cases := []struct {
		name, event, body, sig string
		status                 int
		contains               string
		triggered              bool
	}{
		{"good push", "push", good, sign("whsec-s3cr3t", good), 202, `"status": "triggered"`, true},
		{"bad signature", "push", good, sign("other", good), 401, "invalid X-Hub-Signature-256", false},
		{"missing signature", "push", good, "", 401, "invalid X-Hub-Signature-256", false},
		{"signature of other body", "push", good, sign("whsec-s3cr3t", good+" "), 401, "invalid", false},
		{"sha1 signature", "push", good, "sha1=" + strings.Repeat("0", 40), 401, "invalid", false},
		// The signature is checked first: only a signed push learns whether
		// its repository and branch are watched.
		{"other branch", "push", push("https://github.com/acme/platform.git", "refs/heads/dev"), sign("whsec-s3cr3t", push("https://github.com/acme/platform.git", "refs/heads/dev")), 202, `"status": "ignored"`, false},
		{"unknown repo", "push", push("https://github.com/acme/other.git", "refs/heads/main"), sign("whsec-s3cr3t", push("https://github.com/acme/other.git", "refs/heads/main")), 202, `"status": "ignored"`, false},
		{"repo without secret", "push", push("https://github.com/acme/nosecret.git", "refs/heads/main"), "sha256=00", 401, "invalid X-Hub-Signature-256", false},
		{"repo without secret, signed with another repo's", "push", push("https://github.com/acme/nosecret.git", "refs/heads/main"), sign("whsec-s3cr3t", push("https://github.com/acme/nosecret.git", "refs/heads/main")), 202, `"status": "ignored"`, false},
		{"unsigned, other branch", "push", push("https://github.com/acme/platform.git", "refs/heads/dev"), "", 401, "invalid X-Hub-Signature-256", false},
		{"ping", "ping", `{"zen": "Keep it logically awesome.", "hook_id": 1}`, "", 200, "pong", false},
		{"other event", "issues", `{}`, "", 202, "ignored", false},
		{"no event header", "", good, sign("whsec-s3cr3t", good), 400, "X-GitHub-Event", false},
		{"invalid json", "push", "{", "", 400, "invalid push payload", false},
		{"too large", "push", strings.Repeat(" ", MaxWebhookBody+1), "", 413, "exceeds", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, testToken)
			hdr := map[string]string{"Content-Type": "application/json"}
			if c.event != "" {
				hdr["X-GitHub-Event"] = c.event
			}
			if c.sig != "" {
				hdr["X-Hub-Signature-256"] = c.sig
			}
			r := f.do(t, "POST", "/hooks/github", "", c.body, hdr)
			if r.status != c.status || !strings.Contains(r.body, c.contains) {
				t.Fatalf("= %d %q; want %d containing %q", r.status, r.body, c.status, c.contains)
			}
			got := f.hooks.trig()
			if c.triggered != (len(got) == 1 && got[0] == "platform") || (!c.triggered && len(got) != 0) {
				t.Errorf("triggered = %v, want %v", got, c.triggered)
			}
			if strings.Contains(f.logs.String(), "whsec-s3cr3t") {
				t.Errorf("webhook secret in logs")
			}
		})
	}
}

func TestStatusPageEscapes(t *testing.T) {
	f := newFixture(t, testToken)
	r := f.do(t, "GET", "/", "", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{"platform/web", "0123456", "&lt;script&gt;"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("status page lacks %q:\n%s", want, r.body)
		}
	}
	if strings.Contains(r.body, "<script>") {
		t.Errorf("status page is not escaped:\n%s", r.body)
	}
}

func TestTokenNeverLogged(t *testing.T) {
	f := newFixture(t, testToken)
	f.do(t, "POST", "/api/v1/apps/platform/web/reconcile", "Bearer "+testToken, "", nil)
	f.do(t, "POST", "/api/v1/apps/platform/web/reconcile", "Bearer "+testToken+"x", "", nil)
	f.do(t, "POST", "/api/v1/apps/platform/web/nope", "Bearer "+testToken, "", nil)
	f.do(t, "GET", "/api/v1/apps", "Bearer "+testToken, "", nil)
	f.ctl.actErr = errors.New("boom")
	f.do(t, "POST", "/api/v1/apps/platform/web/unpin", "Bearer "+testToken, "", nil)
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"http request"`) || !strings.Contains(logs, `"status":401`) {
		t.Fatalf("expected request logs, got:\n%s", logs)
	}
	if strings.Contains(logs, testToken) || strings.Contains(logs, testToken[:8]) {
		t.Fatalf("token in logs:\n%s", logs)
	}
}

func TestServeShutsDownOnCancel(t *testing.T) {
	ctl := &fakeController{ready: true}
	s := New(ctl, nil, "", nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("healthz = %d %q", res.StatusCode, b)
	}
	// Webhooks are off without a target.
	res, err = http.Post("http://"+ln.Addr().String()+"/hooks/github", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("webhook without target = %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func TestServeBadAddress(t *testing.T) {
	s := New(&fakeController{}, nil, "", nil, nil)
	if err := s.Serve(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Fatal("Serve on a bad address succeeded")
	}
}
