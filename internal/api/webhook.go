package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/driftless/driftless/sources"
)

// pushPayload is the part of a GitHub push (or ping) payload we read.
type pushPayload struct {
	Ref        string `json:"ref"`
	Repository struct {
		CloneURL string `json:"clone_url"`
		SSHURL   string `json:"ssh_url"`
		HTMLURL  string `json:"html_url"`
		GitURL   string `json:"git_url"`
	} `json:"repository"`
}

// Answers to pushes that are not authenticated, the same whatever the
// payload names, so that they tell nothing about which repositories and
// branches are watched.
const (
	msgBadSignature = "missing or invalid X-Hub-Signature-256"
	msgNoSecrets    = "webhooks are refused: no repo has a webhook_secret configured"
	msgIgnored      = "not a watched repository and branch"
)

// githubHook receives GitHub webhooks. A ping is answered 200 and does
// nothing; other event types are answered 202 "ignored". A push is first
// authenticated: its X-Hub-Signature-256 is checked against every
// configured webhook_secret (each one, with no early exit, in constant
// time), and a push no secret signs gets 401 — the same status and body
// whether or not the repository it names is watched (403, again the same
// for every push, when no repo has a secret). Only then is the push matched
// to a watched repo and branch: when that repo's own secret signed it, the
// repo is polled at once (202 "triggered"); anything else — another repo or
// branch, or a push signed with another repo's secret — is answered 202
// "ignored".
func (s *Server) githubHook(w http.ResponseWriter, r *http.Request) {
	if s.hooks == nil {
		writeError(w, http.StatusNotFound, "webhooks are not enabled")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("webhook body exceeds %d bytes", MaxWebhookBody))
			return
		}
		writeError(w, http.StatusBadRequest, "read webhook body: "+err.Error())
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	switch event {
	case "ping":
		writeJSON(w, http.StatusOK, map[string]string{"status": "pong"})
		return
	case "push":
	case "":
		writeError(w, http.StatusBadRequest, "missing X-GitHub-Event header")
		return
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": "event " + event + " is not handled"})
		return
	}
	var p pushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, "invalid push payload: "+err.Error())
		return
	}
	delivery := r.Header.Get("X-GitHub-Delivery")
	secrets := s.hooks.WebhookSecrets()
	if len(secrets) == 0 {
		writeError(w, http.StatusForbidden, msgNoSecrets)
		return
	}
	signedBy := signers(secrets, body, r.Header.Get("X-Hub-Signature-256"))
	if len(signedBy) == 0 {
		s.log.Warn("webhook signature rejected", "delivery", delivery)
		writeError(w, http.StatusUnauthorized, msgBadSignature)
		return
	}
	var urls []string
	for _, u := range []string{p.Repository.CloneURL, p.Repository.SSHURL, p.Repository.HTMLURL, p.Repository.GitURL} {
		if u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 || p.Ref == "" {
		writeError(w, http.StatusBadRequest, "push payload has no repository URL or ref")
		return
	}
	repo, ok := s.hooks.RepoForPush(urls, p.Ref)
	if ok && !signedBy[repo] {
		s.log.Warn("webhook push signed with another repo's webhook_secret; ignored", "repo", repo, "delivery", delivery)
		ok = false
	}
	if !ok {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": msgIgnored})
		return
	}
	s.log.Info("webhook push", "repo", repo, "ref", p.Ref, "delivery", delivery)
	s.hooks.Trigger(repo)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "triggered", "repo": repo})
}

// signers returns the repos whose secret signed body. Every secret is
// checked, each in constant time, whatever the earlier ones gave: the time
// taken depends on the number of secrets, not on which one matched.
func signers(secrets map[string][]byte, body []byte, header string) map[string]bool {
	var by map[string]bool
	for repo, secret := range secrets {
		if sources.VerifyGitHubSignature(secret, body, header) {
			if by == nil {
				by = map[string]bool{}
			}
			by[repo] = true
		}
	}
	return by
}
