package githubtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

const tok = "ghp_ServerTestToken"

// The server refuses what GitHub refuses, and records why.
func TestServerChecksRequests(t *testing.T) {
	s := New(t, tok, "acme/infra")
	pr := s.AddPullRequest("acme/infra", PullRequest{Head: "f", Base: "main", Title: "t", HeadSHA: "abc"})
	do := func(method, path, auth, accept, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.APIURL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Accept", accept)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const gh = "application/vnd.github+json"
	cases := []struct {
		name, method, path, auth, accept, body string
		status                                 int
		malformed                              string
	}{
		{"no token", "GET", "/repos/acme/infra/pulls", "", gh, "", 401, ""},
		{"token scheme", "GET", "/repos/acme/infra/pulls", "token " + tok, gh, "", 401, ""},
		{"accept", "GET", "/repos/acme/infra/pulls", "Bearer " + tok, "text/html", "", 415, "Accept"},
		{"unknown repo", "GET", "/repos/acme/other/pulls", "Bearer " + tok, gh, "", 404, ""},
		{"unknown field", "POST", "/repos/acme/infra/issues/1/comments", "Bearer " + tok, gh, `{"body":"x","bdy":"y"}`, 422, `"bdy" is not a documented parameter`},
		{"missing field", "POST", "/repos/acme/infra/deployments", "Bearer " + tok, gh, `{"environment":"e"}`, 422, `"ref" wasn't supplied`},
		{"wrong type", "POST", "/repos/acme/infra/deployments", "Bearer " + tok, gh, `{"ref":"a","auto_merge":"no"}`, 422, `"auto_merge" must be boolean`},
		{"bad state", "POST", "/repos/acme/infra/statuses/abc", "Bearer " + tok, gh, `{"state":"done"}`, 422, `"state" is not one of`},
		{"long description", "POST", "/repos/acme/infra/statuses/abc", "Bearer " + tok, gh, `{"state":"success","description":"` + strings.Repeat("x", 141) + `"}`, 422, "too long"},
		{"no endpoint", "GET", "/repos/acme/infra/hooks", "Bearer " + tok, gh, "", 404, "no such endpoint"},
		{"ok", "GET", "/repos/acme/infra/pulls/1", "Bearer " + tok, gh, "", 200, ""},
	}
	for _, c := range cases {
		status, body := do(c.method, c.path, c.auth, c.accept, c.body)
		bad := s.TakeMalformed()
		if status != c.status || (c.malformed == "") != (len(bad) == 0) || (c.malformed != "" && !strings.Contains(bad[0], c.malformed)) {
			t.Errorf("%s: %d %s, malformed %v; want %d %q", c.name, status, body, bad, c.status, c.malformed)
		}
	}
	if _, body := do("GET", "/repos/acme/infra/pulls/1", "Bearer "+tok, gh, ""); !strings.Contains(body, `"sha":"abc"`) || pr != 1 {
		t.Errorf("pull request = %s", body)
	}
}
