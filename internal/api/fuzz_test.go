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
	"slices"
	"strings"
	"sync"
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

// fuzzHooks is a WebhookTarget watching fuzzRepo's main branch, recording
// the Trigger calls.
type fuzzHooks struct {
	mu        sync.Mutex
	triggered []string
}

func (h *fuzzHooks) WebhookSecret(repo string) ([]byte, bool) {
	if repo != fuzzRepo {
		return nil, false
	}
	return []byte(fuzzSecret), true
}

func (h *fuzzHooks) WebhookSecrets() map[string][]byte {
	return map[string][]byte{fuzzRepo: []byte(fuzzSecret)}
}

func (h *fuzzHooks) RepoForPush(urls []string, ref string) (string, bool) {
	if ref == "refs/heads/"+fuzzBranch && (slices.Contains(urls, fuzzURL) || slices.Contains(urls, fuzzSSH)) {
		return fuzzRepo, true
	}
	return "", false
}

func (h *fuzzHooks) Trigger(repo string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.triggered = append(h.triggered, repo)
}

func (h *fuzzHooks) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.triggered...)
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

// pushesTrackedBranch reports whether body is a JSON push payload for the
// watched repository and branch.
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
	return slices.ContainsFunc([]string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL}, func(u string) bool {
		return u == fuzzURL || u == fuzzSSH
	})
}

var fuzzStatuses = []int{200, 202, 400, 401, 403, 404, 413}

// FuzzGitHubWebhook posts arbitrary bodies, signatures and event types to
// POST /hooks/github. Properties: the handler never panics; it answers one
// of the documented statuses with a JSON body; Trigger is called once,
// exactly when the signature is the correct HMAC of the body and the body
// is a push to the watched branch of the watched repository, and never
// otherwise; the secret never appears in the response or in the logs.
func FuzzGitHubWebhook(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, signature, event string) {
		if signature == fuzzSignToken {
			signature = fuzzSign(body)
		}
		hooks := &fuzzHooks{}
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		h := New(nil, hooks, "", nil, log).Handler()

		req := httptest.NewRequest(http.MethodPost, "/hooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if event != "" {
			req.Header.Set("X-GitHub-Event", event)
		}
		if signature != "" {
			req.Header.Set("X-Hub-Signature-256", signature)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		status, resp := rec.Code, rec.Body.String()
		if !slices.Contains(fuzzStatuses, status) {
			t.Fatalf("status %d (body %q) is not one of %v", status, resp, fuzzStatuses)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("response is not JSON: %q", resp)
		}
		want := event == "push" && len(body) <= MaxWebhookBody && signatureValid(body, signature) && pushesTrackedBranch(body)
		got := hooks.calls()
		switch {
		case want && (len(got) != 1 || got[0] != fuzzRepo):
			t.Fatalf("signed push to the tracked branch: Trigger calls %v, want [%s] (status %d %q)", got, fuzzRepo, status, resp)
		case want && status != http.StatusAccepted:
			t.Errorf("signed push to the tracked branch answered %d %q, want 202", status, resp)
		case !want && len(got) != 0:
			t.Fatalf("Trigger called (%v) for event %q, signature valid %v, tracked push %v (status %d)",
				got, event, signatureValid(body, signature), pushesTrackedBranch(body), status)
		}
		if strings.Contains(resp, fuzzSecret) || strings.Contains(logs.String(), fuzzSecret) {
			t.Errorf("webhook secret leaked into the response or logs")
		}
	})
}
