package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// watched is one repo a forgeHooks watches: its config name, tracked
// branch, webhook secret and the URLs it is known by.
type watched struct {
	name, branch, secret string
	urls                 []string
}

// forgeHooks is a WebhookTarget and PullRequestTarget watching the repos
// the fixtures under testdata/ name, recording what it is asked to do.
type forgeHooks struct {
	repos    []watched
	previews bool // what PullRequest answers

	mu        sync.Mutex
	triggered []string
	prs       []PullRequestEvent
}

// Secrets of the watched fixture repos.
const (
	helloSecret    = "whsec-hello-0123"
	diasporaSecret = "glpat-diaspora-4567"
	giteaSecret    = "gitea-webhooks-89ab"
	otherSecret    = "whsec-other-cdef"
)

// newForgeHooks watches Codertocat/Hello-World (GitHub fixtures),
// mike/diaspora (GitLab) and gitea/webhooks (Gitea) on the branches their
// fixtures push to, and an unrelated acme/other.
func newForgeHooks(helloBranch string) *forgeHooks {
	return &forgeHooks{previews: true, repos: []watched{
		{"hello", helloBranch, helloSecret, []string{"https://github.com/Codertocat/Hello-World.git"}},
		{"diaspora", "master", diasporaSecret, []string{"http://example.com/mike/diaspora.git"}},
		{"webhooks", "develop", giteaSecret, []string{"http://localhost:3000/gitea/webhooks.git"}},
		{"other", "main", otherSecret, []string{"https://github.com/acme/other.git"}},
	}}
}

func (h *forgeHooks) WebhookSecrets() map[string][]byte {
	m := map[string][]byte{}
	for _, r := range h.repos {
		m[r.name] = []byte(r.secret)
	}
	return m
}

func (h *forgeHooks) RepoForPush(urls []string, ref string) (string, bool) {
	for _, r := range h.repos {
		if ref == "refs/heads/"+r.branch && slices.ContainsFunc(urls, func(u string) bool { return slices.Contains(r.urls, u) }) {
			return r.name, true
		}
	}
	return "", false
}

func (h *forgeHooks) Trigger(repo string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.triggered = append(h.triggered, repo)
}

func (h *forgeHooks) PullRequest(ev PullRequestEvent) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.prs = append(h.prs, ev)
	return h.previews
}

func (h *forgeHooks) calls() (triggered []string, prs []PullRequestEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.triggered), slices.Clone(h.prs)
}

// hookCall is one webhook delivery posted by post.
type hookCall struct {
	path, contentType string
	header            map[string]string
	body              []byte
}

// hookAnswer is the server's answer, with its JSON body decoded.
type hookAnswer struct {
	status int
	body   string
	json   map[string]any
}

// post sends c to a Server over target and returns its answer; the
// secrets must not show in the answer or in the logs.
func post(t *testing.T, target WebhookTarget, c hookCall) hookAnswer {
	t.Helper()
	var logs bytes.Buffer
	h := New(nil, target, "", nil, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))).Handler()
	req := httptest.NewRequest(http.MethodPost, c.path, bytes.NewReader(c.body))
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := hookAnswer{status: rec.Code, body: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &a.json); err != nil {
		t.Fatalf("%s: answer is not a JSON object: %q", c.path, a.body)
	}
	for _, s := range []string{helloSecret, diasporaSecret, giteaSecret, otherSecret} {
		if strings.Contains(a.body, s) || strings.Contains(logs.String(), s) {
			t.Errorf("%s: a webhook secret shows in the answer or the logs", c.path)
		}
	}
	return a
}

func (a hookAnswer) is(status int, field, want string) bool {
	got, _ := a.json[field].(string)
	return a.status == status && got == want
}

// payloadFile reads testdata/NAME.
func payloadFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hexHMAC is the hex HMAC-SHA256 of body under secret, as Gitea sends it.
func hexHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// formBody is payload form-encoded as GitHub and Gitea send it.
func formBody(payload []byte) []byte {
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}
