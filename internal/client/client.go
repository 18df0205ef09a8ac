package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/driftless/driftless/state"
)

// DefaultBase is the API address when none is given.
const DefaultBase = "http://127.0.0.1:8080"

// DefaultTimeout bounds a request when the caller's context has no deadline.
const DefaultTimeout = 60 * time.Second

// Client talks to a running driftless daemon's HTTP API.
type Client struct {
	Base  string       // e.g. "http://127.0.0.1:8080"
	Token string       // API token for mutating calls; sent as a bearer token
	HTTP  *http.Client // nil: a client with no overall timeout (the context decides)
}

// New returns a Client for base (DefaultBase when empty; "http://" is added
// when base has no scheme).
func New(base, token string) *Client {
	base = strings.TrimSpace(base)
	if base == "" {
		base = DefaultBase
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{}}
}

// APIError is an error response of the API.
type APIError struct {
	StatusCode int    // HTTP status
	Message    string // the server's "error" text, or the start of a non-JSON body
}

// Error is the server's message with terminal control characters escaped
// (see CleanText): it is printed as the CLI's error.
func (e *APIError) Error() string {
	return fmt.Sprintf("server: %s (HTTP %d)", CleanText(e.Message), e.StatusCode)
}

// Apps lists every app.
func (c *Client) Apps(ctx context.Context) ([]state.AppState, error) {
	var apps []state.AppState
	err := c.do(ctx, http.MethodGet, "/api/v1/apps", nil, &apps)
	return apps, err
}

// App returns one app.
func (c *Client) App(ctx context.Context, repo, app string) (state.AppState, error) {
	var st state.AppState
	err := c.do(ctx, http.MethodGet, appPath(repo, app), nil, &st)
	return st, err
}

// History returns an app's deploy records.
func (c *Client) History(ctx context.Context, repo, app string) ([]state.DeployRecord, error) {
	var h []state.DeployRecord
	err := c.do(ctx, http.MethodGet, appPath(repo, app)+"/history", nil, &h)
	return h, err
}

// Act runs action (reconcile, rollback, unpin, approve, suspend, resume) on
// an app; body, when not nil, is sent as JSON (e.g. {"to": "abc1234"}).
func (c *Client) Act(ctx context.Context, repo, app, action string, body any) (state.AppState, error) {
	var st state.AppState
	err := c.do(ctx, http.MethodPost, appPath(repo, app)+"/"+url.PathEscape(action), body, &st)
	return st, err
}

func appPath(repo, app string) string {
	return "/api/v1/apps/" + url.PathEscape(repo) + "/" + url.PathEscape(app)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		// *url.Error carries method and URL, never headers: the token stays out.
		return fmt.Errorf("driftless API: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response of %s %s: %w", method, path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return apiError(res.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response of %s %s: %w", method, path, err)
	}
	return nil
}

func apiError(status int, data []byte) *APIError {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return &APIError{StatusCode: status, Message: e.Error}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{StatusCode: status, Message: msg}
}
