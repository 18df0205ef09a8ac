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
	"slices"
	"strings"
	"testing"
)

// The one repository the fuzzed webhook target watches.
const (
	fuzzSecret = "whsec-fuzz-0123456789"
	fuzzRepo   = "platform"
	fuzzURL    = "https://github.com/acme/platform.git"
	fuzzSSH    = "git@github.com:acme/platform.git"
	fuzzBranch = "main"
)

// fuzzSignToken, as the fuzzed signature, is replaced by the correct
// signature of the body, so that the fuzzer also explores the paths behind
// the signature check with mutated payloads.
const fuzzSignToken = "@valid"

// newFuzzHooks watches fuzzRepo's main branch by its https and ssh URLs.
func newFuzzHooks() *forgeHooks {
	return &forgeHooks{previews: true, repos: []watched{{fuzzRepo, fuzzBranch, fuzzSecret, []string{fuzzURL, fuzzSSH}}}}
}

// fuzzSign is the X-Hub-Signature-256 GitHub sends for body.
func fuzzSign(body []byte) string {
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// signatureValid reports whether sig is the HMAC-SHA256 of body under the
// secret, computed here independently of the code under test.
func signatureValid(body []byte, sig string) bool {
	h, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(h)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// isWatchedURL reports whether u is one of the watched repository's URLs.
func isWatchedURL(u string) bool { return u == fuzzURL || u == fuzzSSH }

// pushesTrackedBranch reports whether body is a JSON push payload (GitHub's
// or Gitea's) for the watched repository and branch.
func pushesTrackedBranch(body []byte) bool {
	var p struct {
		Ref        string `json:"ref"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			HTMLURL  string `json:"html_url"`
			GitURL   string `json:"git_url"`
		} `json:"repository"`
	}
	if json.Unmarshal(body, &p) != nil || p.Ref != "refs/heads/"+fuzzBranch {
		return false
	}
	r := p.Repository
	return slices.ContainsFunc([]string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL}, isWatchedURL)
}

// prForTrackedBranch reports whether body is a JSON pull_request payload
// with a handled action into the watched repository's tracked branch.
func prForTrackedBranch(body []byte) bool {
	var p struct {
		Action      string `json:"action"`
		PullRequest *struct {
			Base struct {
				Ref  string `json:"ref"`
				Repo *struct {
					CloneURL string `json:"clone_url"`
					SSHURL   string `json:"ssh_url"`
					HTMLURL  string `json:"html_url"`
					GitURL   string `json:"git_url"`
				} `json:"repo"`
			} `json:"base"`
		} `json:"pull_request"`
	}
	if json.Unmarshal(body, &p) != nil || p.PullRequest == nil || p.PullRequest.Base.Repo == nil {
		return false
	}
	r := p.PullRequest.Base.Repo
	return slices.Contains([]string{"opened", "synchronize", "reopened", "closed"}, p.Action) &&
		p.PullRequest.Base.Ref == fuzzBranch &&
		slices.ContainsFunc([]string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL}, isWatchedURL)
}

// gitlabPushesTrackedBranch reports whether body is a GitLab push payload
// for the watched repository and branch.
func gitlabPushesTrackedBranch(body []byte) bool {
	var p struct {
		Ref     string         `json:"ref"`
		Project map[string]any `json:"project"`
		Repo    map[string]any `json:"repository"`
	}
	if json.Unmarshal(body, &p) != nil || p.Ref != "refs/heads/"+fuzzBranch {
		return false
	}
	for _, named := range []struct {
		obj  map[string]any
		keys []string
	}{
		{p.Project, []string{"git_http_url", "git_ssh_url", "web_url"}},
		{p.Repo, []string{"git_http_url", "git_ssh_url", "homepage"}},
	} {
		for _, k := range named.keys {
			if u, ok := named.obj[k].(string); ok && isWatchedURL(u) {
				return true
			}
		}
	}
	return false
}

var fuzzStatuses = []int{200, 202, 400, 401, 403, 404, 413}

// fuzzResult is what the server did with one fuzzed delivery.
type fuzzResult struct {
	status    int
	resp      string
	triggered []string
	prs       []PullRequestEvent
}

// serveFuzzed posts body to path with the headers (empty values unset)
// and checks what holds for every delivery to every endpoint: a documented
// status, a JSON body, and the secret in neither the answer nor the logs.
func serveFuzzed(t *testing.T, path string, body []byte, header map[string]string) fuzzResult {
	hooks := newFuzzHooks()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := New(nil, hooks, "", nil, log).Handler()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := fuzzResult{status: rec.Code, resp: rec.Body.String()}
	r.triggered, r.prs = hooks.calls()
	if !slices.Contains(fuzzStatuses, r.status) {
		t.Fatalf("%s: status %d (body %q) is not one of %v", path, r.status, r.resp, fuzzStatuses)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Errorf("%s: response is not JSON: %q", path, r.resp)
	}
	if strings.Contains(r.resp, fuzzSecret) || strings.Contains(logs.String(), fuzzSecret) {
		t.Errorf("%s: webhook secret leaked into the response or logs", path)
	}
	return r
}

// checkTriggered fails unless Trigger was called once, with fuzzRepo, and
// answered 202 exactly when want.
func checkTriggered(t *testing.T, r fuzzResult, want bool, why string) {
	t.Helper()
	switch {
	case want && (len(r.triggered) != 1 || r.triggered[0] != fuzzRepo):
		t.Fatalf("%s: Trigger calls %v, want [%s] (status %d %q)", why, r.triggered, fuzzRepo, r.status, r.resp)
	case want && r.status != http.StatusAccepted:
		t.Errorf("%s answered %d %q, want 202", why, r.status, r.resp)
	case !want && len(r.triggered) != 0:
		t.Fatalf("Trigger called (%v) though not %s (status %d %q)", r.triggered, why, r.status, r.resp)
	}
}

// FuzzGitHubWebhook posts arbitrary JSON bodies, signatures and event
// types to POST /hooks/github. Properties: the handler never panics; it
// answers one of the documented statuses with a JSON body; Trigger is
// called once, exactly when the signature is the correct HMAC of the body
// and the body is a push to the watched branch of the watched repository;
// PullRequest is called once, exactly when the signature is correct and
// the body is a pull_request with a handled action into that branch; the
// secret never appears in the response or in the logs.
func FuzzGitHubWebhook(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, signature, event string) {
		if signature == fuzzSignToken {
			signature = fuzzSign(body)
		}
		r := serveFuzzed(t, "/hooks/github", body, map[string]string{"Content-Type": contentJSON,
			"X-GitHub-Event": event, "X-Hub-Signature-256": signature})
		signed := len(body) <= MaxWebhookBody && signatureValid(body, signature)
		checkTriggered(t, r, event == "push" && signed && pushesTrackedBranch(body), "a signed push to the tracked branch")
		wantPR := event == "pull_request" && signed && prForTrackedBranch(body)
		if got := len(r.prs) == 1 && r.prs[0].Repo == fuzzRepo; got != wantPR || len(r.prs) > 1 {
			t.Fatalf("PullRequest calls %+v, want one: %v (status %d %q)", r.prs, wantPR, r.status, r.resp)
		}
		if wantPR && !strings.Contains(r.resp, `"status": "preview"`) {
			t.Errorf("dispatched pull request answered %d %q, want 202 preview", r.status, r.resp)
		}
	})
}

// FuzzGitHubFormWebhook posts arbitrary form bodies to POST /hooks/github
// as application/x-www-form-urlencoded. Properties as FuzzGitHubWebhook's:
// Trigger is called exactly when the signature is the HMAC of the raw form
// body and its payload field is a push to the watched branch.
func FuzzGitHubFormWebhook(f *testing.F) {
	push := `{"ref": "refs/heads/main", "repository": {"clone_url": "` + fuzzURL + `"}}`
	f.Add([]byte(url.Values{"payload": {push}}.Encode()), fuzzSignToken, "push")
	f.Add([]byte("payload="+push), fuzzSignToken, "push") // unescaped
	f.Add([]byte("payload=%7B%22ref&payload=x"), fuzzSignToken, "push")
	f.Add([]byte("a=1;payload=%zz"), "", "ping")
	f.Fuzz(func(t *testing.T, body []byte, signature, event string) {
		if signature == fuzzSignToken {
			signature = fuzzSign(body)
		}
		r := serveFuzzed(t, "/hooks/github", body, map[string]string{"Content-Type": contentForm,
			"X-GitHub-Event": event, "X-Hub-Signature-256": signature})
		form, err := url.ParseQuery(string(body))
		want := event == "push" && len(body) <= MaxWebhookBody && signatureValid(body, signature) &&
			err == nil && form.Has("payload") && pushesTrackedBranch([]byte(form.Get("payload")))
		checkTriggered(t, r, want, "a signed form push to the tracked branch")
	})
}

// FuzzGitLabWebhook posts arbitrary bodies, tokens and events to POST
// /hooks/gitlab: Trigger is called exactly for a "Push Hook" carrying the
// secret as X-Gitlab-Token whose payload names the watched repository and
// branch by one of GitLab's URLs.
func FuzzGitLabWebhook(f *testing.F) {
	f.Add([]byte(`{"ref": "refs/heads/main", "project": {"git_http_url": "`+fuzzURL+`"}}`), fuzzSignToken, "Push Hook")
	f.Add([]byte(`{"ref": "refs/heads/main", "repository": {"homepage": "`+fuzzSSH+`"}}`), fuzzSignToken, "Push Hook")
	f.Add([]byte(`{"ref": "refs/tags/v1", "project": {"web_url": "`+fuzzURL+`"}}`), fuzzSignToken, "Tag Push Hook")
	f.Add([]byte(`{"ref": "refs/heads/main", "project": {"git_ssh_url": "`+fuzzSSH+`"}}`), fuzzSecret[:4], "Push Hook")
	f.Add([]byte(`{"object_kind": "push"}`), "", "System Hook")
	f.Fuzz(func(t *testing.T, body []byte, token, event string) {
		if token == fuzzSignToken {
			token = fuzzSecret
		}
		r := serveFuzzed(t, "/hooks/gitlab", body, map[string]string{"Content-Type": contentJSON,
			"X-Gitlab-Event": event, "X-Gitlab-Token": token})
		want := event == "Push Hook" && len(body) <= MaxWebhookBody && token == fuzzSecret && gitlabPushesTrackedBranch(body)
		checkTriggered(t, r, want, "a GitLab push with the token to the tracked branch")
	})
}

// FuzzGiteaWebhook posts arbitrary payloads, JSON- or form-encoded, to
// POST /hooks/gitea with Gitea's or Forgejo's headers: Trigger is called
// exactly for a push whose signature is the hex HMAC of the JSON payload
// and which names the watched repository and branch.
func FuzzGiteaWebhook(f *testing.F) {
	push := []byte(`{"ref": "refs/heads/main", "repository": {"ssh_url": "` + fuzzSSH + `"}}`)
	f.Add(push, fuzzSignToken, "push", false, false)
	f.Add(push, fuzzSignToken, "push", true, true)
	f.Add(push, "sha256=x", "push", false, true)
	f.Add([]byte(`{"action": "opened"}`), "", "pull_request", false, false)
	f.Fuzz(func(t *testing.T, payload []byte, signature, event string, form, forgejo bool) {
		if signature == fuzzSignToken {
			m := hmac.New(sha256.New, []byte(fuzzSecret))
			m.Write(payload)
			signature = hex.EncodeToString(m.Sum(nil))
		}
		prefix := map[bool]string{false: "X-Gitea-", true: "X-Forgejo-"}[forgejo]
		body, ct := payload, contentJSON
		if form {
			body, ct = []byte(url.Values{"payload": {string(payload)}}.Encode()), contentForm
		}
		r := serveFuzzed(t, "/hooks/gitea", body, map[string]string{"Content-Type": ct,
			prefix + "Event": event, prefix + "Signature": signature})
		got, err := hex.DecodeString(signature)
		m := hmac.New(sha256.New, []byte(fuzzSecret))
		m.Write(payload)
		signed := err == nil && hmac.Equal(got, m.Sum(nil))
		want := event == "push" && len(body) <= MaxWebhookBody && signed && pushesTrackedBranch(payload)
		checkTriggered(t, r, want, "a signed Gitea push to the tracked branch")
	})
}
