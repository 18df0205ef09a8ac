package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/testenv"
)

// forgeFixture reads a forge's published example payload from
// internal/api/testdata and points it at the test repo: set is applied to
// the decoded JSON.
func forgeFixture(t *testing.T, name string, set func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "api", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	set(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// postHook POSTs body to the daemon's path with the headers.
func (h *e2e) postHook(path string, body []byte, header map[string]string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestE2EGitLabGiteaWebhooks: with a 1 h poll interval, GitLab's and
// Gitea's documented push payloads, pointed at the test repo and
// authenticated as each forge does, make the daemon poll and deploy; a
// wrong token or signature triggers nothing; a GitHub pull_request is
// acknowledged and ignored while previews are not wired.
func TestE2EGitLabGiteaWebhooks(t *testing.T) {
	testenv.Short(t)
	start := time.Now()
	defer func() { t.Logf("runtime %s", time.Since(start).Round(100*time.Millisecond)) }()
	const secret = "whsec-forges-0123456789"
	g, rev1 := newStacksRepo(t)
	dir := t.TempDir()
	cfg := replaceOnce(t, daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""),
		`interval       = "1s"`, `interval       = "1h"
  webhook_secret = env("HOOK_SECRET")`)
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", cfg),
		map[string]string{"DRIFTLESS_API_TOKEN": testToken, "HOOK_SECRET": secret})
	h.waitSynced(rev1, "platform/network", "platform/app")

	// GitLab: the token is the secret.
	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v2", 1))
	rev2 := g.Commit("app: v2")
	gitlab := forgeFixture(t, "gitlab/push.json", func(m map[string]any) {
		m["ref"] = "refs/heads/main"
		m["after"] = rev2
		m["project"].(map[string]any)["git_http_url"] = g.URL()
	})
	glHeader := func(token string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token}
	}
	if code, b := h.postHook("/hooks/gitlab", gitlab, glHeader("not-the-secret")); code != http.StatusUnauthorized {
		t.Errorf("GitLab push with a wrong token = %d %s, want 401", code, b)
	}
	if code, b := h.postHook("/hooks/gitlab", gitlab, glHeader(secret)); code != http.StatusAccepted || !strings.Contains(b, "triggered") {
		t.Fatalf("GitLab push = %d %s, want 202 triggered", code, b)
	}
	h.waitSyncedWithin(30*time.Second, rev2, "platform/network", "platform/app")

	// Gitea, form-encoded: the signature is the hex HMAC of the JSON.
	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v3", 1))
	rev3 := g.Commit("app: v3")
	gitea := forgeFixture(t, "gitea/push.json", func(m map[string]any) {
		m["ref"] = "refs/heads/main"
		m["after"] = rev3
		delete(m, "secret")
		m["repository"].(map[string]any)["clone_url"] = g.URL()
	})
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(gitea)
	form := []byte(url.Values{"payload": {string(gitea)}}.Encode())
	gtHeader := func(sig string) map[string]string {
		return map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Gitea-Event": "push", "X-Gitea-Signature": sig}
	}
	if code, b := h.postHook("/hooks/gitea", form, gtHeader("sha256="+hex.EncodeToString(mac.Sum(nil)))); code != http.StatusUnauthorized {
		t.Errorf("Gitea push with a GitHub-style signature = %d %s, want 401", code, b)
	}
	time.Sleep(2 * time.Second)
	if i := indexOf(h.events(), "source.updated", "platform", rev3); i >= 0 {
		t.Fatalf("a refused webhook made the daemon poll: source.updated at %.7s", rev3)
	}
	if code, b := h.postHook("/hooks/gitea", form, gtHeader(hex.EncodeToString(mac.Sum(nil)))); code != http.StatusAccepted || !strings.Contains(b, "triggered") {
		t.Fatalf("Gitea push = %d %s, want 202 triggered", code, b)
	}
	h.waitSyncedWithin(30*time.Second, rev3, "platform/network", "platform/app")

	// GitHub pull_request: authenticated, matched, and ignored without previews.
	pr := forgeFixture(t, "github/pull_request/opened.payload.json", func(m map[string]any) {
		base := m["pull_request"].(map[string]any)["base"].(map[string]any)
		base["ref"] = "main"
		base["repo"].(map[string]any)["clone_url"] = g.URL()
	})
	mac = hmac.New(sha256.New, []byte(secret))
	mac.Write(pr)
	code, b := h.postHook("/hooks/github", pr, map[string]string{"Content-Type": "application/json",
		"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))})
	if code != http.StatusAccepted || !strings.Contains(b, "previews are not enabled") {
		t.Errorf("pull_request without previews = %d %s, want 202 ignored", code, b)
	}
	if strings.Contains(h.logs.String(), secret) {
		t.Errorf("the webhook secret is in the daemon's log")
	}
}

// TestWebhooksPullRequest: the daemon's webhook target matches a pull
// request's base repository by any URL form and hands it to prs; without
// prs every pull request is ignored.
func TestWebhooksPullRequest(t *testing.T) {
	cfg := &config.Config{Repos: []config.RepoConfig{{Name: "hello", URL: "git@github.com:Codertocat/Hello-World.git",
		Branch: "master", WebhookSecret: config.Secret("whsec-hello")}}}
	body, err := os.ReadFile(filepath.Join("..", "..", "internal", "api", "testdata", "github", "pull_request", "synchronize.payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte("whsec-hello"))
	mac.Write(body)
	send := func(w webhooks) (int, string) {
		rec := httptest.NewRecorder()
		req, _ := http.NewRequest(http.MethodPost, "/hooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", "d-1")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		api.New(nil, w, "", nil, nil).Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	var got []api.PullRequestEvent
	code, b := send(webhooks{cfg: cfg, prs: func(ev api.PullRequestEvent) bool { got = append(got, ev); return true }})
	if code != http.StatusAccepted || !strings.Contains(b, `"status": "preview"`) || len(got) != 1 {
		t.Fatalf("= %d %s, calls %+v; want 202 preview and one call", code, b, got)
	}
	if ev := got[0]; ev.Repo != "hello" || ev.Number != 2 || ev.Action != "synchronize" || ev.HeadSHA != "ec26c3e57ca3a959ca5aad62de7213c562f8c821" || ev.Delivery != "d-1" {
		t.Errorf("event = %+v", ev)
	}
	if code, b := send(webhooks{cfg: cfg}); code != http.StatusAccepted || !strings.Contains(b, "ignored") {
		t.Errorf("without prs = %d %s, want 202 ignored", code, b)
	}
}
