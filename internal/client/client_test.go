package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/state"
)

const token = "cli-tok-s3cr3t"

// controller is a fake api.Controller for one app, recording actions.
type controller struct {
	mu      sync.Mutex
	app     state.AppState
	history []state.DeployRecord
	acts    []api.ActionRequest
}

func (c *controller) Apps(context.Context) ([]state.AppState, error) {
	return []state.AppState{c.app}, nil
}

func (c *controller) App(_ context.Context, repo, app string) (state.AppState, error) {
	if repo != c.app.Repo || app != c.app.App {
		return state.AppState{}, fmt.Errorf("app %s/%s: %w", repo, app, state.ErrNotFound)
	}
	return c.app, nil
}

func (c *controller) History(ctx context.Context, repo, app string) ([]state.DeployRecord, error) {
	if _, err := c.App(ctx, repo, app); err != nil {
		return nil, err
	}
	return c.history, nil
}

func (c *controller) Act(ctx context.Context, req api.ActionRequest) (state.AppState, error) {
	c.mu.Lock()
	c.acts = append(c.acts, req)
	c.mu.Unlock()
	st, err := c.App(ctx, req.Repo, req.App)
	if req.Action == "rollback" {
		st.Status, st.PinnedRevision = state.StatusPinned, req.To
	}
	return st, err
}

func (c *controller) Ready() (bool, string) { return true, "" }

func newServer(t *testing.T) (*controller, *httptest.Server) {
	t.Helper()
	ctl := &controller{
		app: state.AppState{Repo: "platform", App: "web", Kind: "ecs_service", Status: "synced",
			DesiredRevision: "89abcdef01234567", AppliedRevision: "89abcdef01234567",
			UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		history: []state.DeployRecord{{ID: "d1", Revision: "89abcdef01234567", Author: "alice", PR: 42,
			Outcome: "succeeded", StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			FinishedAt: time.Date(2025, 1, 2, 3, 5, 0, 0, time.UTC)}},
	}
	srv := httptest.NewServer(api.New(ctl, nil, config.Secret(token), nil, nil).Handler())
	t.Cleanup(srv.Close)
	return ctl, srv
}

func TestClientAgainstServer(t *testing.T) {
	ctl, srv := newServer(t)
	ctx := context.Background()
	c := New(srv.URL+"/", token)

	apps, err := c.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0] != ctl.app {
		t.Fatalf("Apps = %+v, %v", apps, err)
	}
	app, err := c.App(ctx, "platform", "web")
	if err != nil || app != ctl.app {
		t.Fatalf("App = %+v, %v", app, err)
	}
	h, err := c.History(ctx, "platform", "web")
	if err != nil || len(h) != 1 || h[0].PR != 42 {
		t.Fatalf("History = %+v, %v", h, err)
	}
	st, err := c.Act(ctx, "platform", "web", "rollback", map[string]any{"to": "0123abc", "caller": "cli"})
	if err != nil || st.Status != state.StatusPinned || st.PinnedRevision != "0123abc" {
		t.Fatalf("Act = %+v, %v", st, err)
	}
	if _, err := c.Act(ctx, "platform", "web", "reconcile", nil); err != nil {
		t.Fatalf("Act reconcile: %v", err)
	}
	want := []api.ActionRequest{
		{Repo: "platform", App: "web", Action: "rollback", To: "0123abc", Caller: "cli"},
		{Repo: "platform", App: "web", Action: "reconcile", Caller: "api"},
	}
	if len(ctl.acts) != 2 || ctl.acts[0] != want[0] || ctl.acts[1] != want[1] {
		t.Fatalf("actions = %+v", ctl.acts)
	}
}

func TestAPIErrors(t *testing.T) {
	ctl, srv := newServer(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		call   func(c *Client) error
		token  string
		status int
		msg    string
	}{
		{"unknown app", func(c *Client) error { _, err := c.App(ctx, "platform", "nope"); return err }, token, 404, "app platform/nope: not found"},
		{"wrong token", func(c *Client) error { _, err := c.Act(ctx, "platform", "web", "reconcile", nil); return err }, "wrong", 401, "missing or invalid bearer token"},
		{"no token", func(c *Client) error { _, err := c.Act(ctx, "platform", "web", "suspend", nil); return err }, "", 401, "missing or invalid bearer token"},
		{"bad body", func(c *Client) error {
			_, err := c.Act(ctx, "platform", "web", "rollback", map[string]any{"to": "a", "previous": true})
			return err
		}, token, 400, "rollback takes either to or previous, not both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(New(srv.URL, tc.token))
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.StatusCode != tc.status || ae.Message != tc.msg {
				t.Fatalf("APIError = %d %q, want %d %q", ae.StatusCode, ae.Message, tc.status, tc.msg)
			}
			if want := fmt.Sprintf("server: %s (HTTP %d)", tc.msg, tc.status); ae.Error() != want {
				t.Errorf("Error() = %q, want %q", ae.Error(), want)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
	if len(ctl.acts) != 0 {
		t.Errorf("unauthorised or invalid calls reached the controller: %+v", ctl.acts)
	}
}

func TestNonJSONError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream proxy exploded", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := New(srv.URL, "").Apps(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.Message != "upstream proxy exploded" {
		t.Fatalf("err = %#v", err)
	}
}

func TestTransportErrorHasNoToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close()
	_, err := New(url, token).Act(context.Background(), "platform", "web", "reconcile", nil)
	var ae *APIError
	if err == nil || errors.As(err, &ae) || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v", err)
	}
}

func TestSendsBearerToken(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		io.WriteString(w, "[]")
	}))
	defer srv.Close()
	if _, err := New(srv.URL, token).Apps(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != "Bearer "+token {
		t.Fatalf("Authorization = %q", got)
	}
}

func TestNewDefaults(t *testing.T) {
	cases := map[string]string{
		"":                       DefaultBase,
		"localhost:9000":         "http://localhost:9000",
		"https://ci.example/x/":  "https://ci.example/x",
		" http://127.0.0.1:8080": "http://127.0.0.1:8080",
	}
	for in, want := range cases {
		if got := New(in, "").Base; got != want {
			t.Errorf("New(%q).Base = %q, want %q", in, got, want)
		}
	}
}
