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

// githubHook receives GitHub webhooks. A ping is answered 200 and does
// nothing. A push names a repository and a ref; when they are a watched repo
// and its branch, the signature is verified against that repo's
// webhook_secret (401 when missing or wrong, 403 when the repo has no
// secret) and the repo is polled at once (202). Pushes to anything else are
// answered 202 with "ignored" and do nothing, as are other event types.
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
	if !ok {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": "not a watched repository and branch"})
		return
	}
	secret, ok := s.hooks.WebhookSecret(repo)
	if !ok || len(secret) == 0 {
		writeError(w, http.StatusForbidden, fmt.Sprintf("repo %s has no webhook_secret configured; webhooks are refused", repo))
		return
	}
	if !sources.VerifyGitHubSignature(secret, body, r.Header.Get("X-Hub-Signature-256")) {
		s.log.Warn("webhook signature rejected", "repo", repo, "delivery", r.Header.Get("X-GitHub-Delivery"))
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Hub-Signature-256")
		return
	}
	s.log.Info("webhook push", "repo", repo, "ref", p.Ref, "delivery", r.Header.Get("X-GitHub-Delivery"))
	s.hooks.Trigger(repo)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "triggered", "repo": repo})
}
