package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/state"
)

// POST /api/v1/apps/{repo}/{app}/drift-pr needs the token, checks the
// names, passes the caller and maps errors to statuses; the generic action
// route does not swallow it.
func TestDriftPRRoute(t *testing.T) {
	var got []string
	s := New(&fakeController{}, nil, config.Secret(testToken), prometheus.NewRegistry(), nil)
	s.SetDriftPR(func(_ context.Context, repo, app, caller string) (any, error) {
		got = append(got, repo+"/"+app+" by "+caller)
		switch app {
		case "clean":
			return nil, fmt.Errorf("%w: no open drift", state.ErrConflict)
		case "gone":
			return nil, fmt.Errorf("%w: no app", state.ErrNotFound)
		}
		return map[string]any{"action": "pull_request", "ref": map[string]any{"number": 7}}, nil
	})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	post := func(path, auth, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct {
		path, auth, body string
		status           int
		has              string
	}{
		{"/api/v1/apps/platform/web/drift-pr", testToken, `{"caller":"cli:ada"}`, 200, `"number": 7`},
		{"/api/v1/apps/platform/web/drift-pr", "", "", 401, "token"},
		{"/api/v1/apps/platform/clean/drift-pr", testToken, "", 409, "no open drift"},
		{"/api/v1/apps/platform/gone/drift-pr", testToken, "", 404, "no app"},
		{"/api/v1/apps/platform/Bad!/drift-pr", testToken, "", 400, "invalid name"},
		{"/api/v1/apps/platform/web/drift-pr", testToken, "{", 400, "invalid JSON"},
	} {
		status, body := post(c.path, c.auth, c.body)
		if status != c.status || !strings.Contains(body, c.has) {
			t.Errorf("POST %s = %d %s, want %d with %q", c.path, status, body, c.status, c.has)
		}
	}
	if want := []string{"platform/web by cli:ada", "platform/clean by api", "platform/gone by api"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls = %q, want %q", got, want)
	}
}
