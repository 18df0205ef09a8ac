package api

import (
	"encoding/json"
	"net/http"

	"github.com/driftless/driftless/sources"
)

// githubRepo is the part of a GitHub (or Gitea) repository object we read.
type githubRepo struct {
	ID       int64  `json:"id"`
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url"`
	SSHURL   string `json:"ssh_url"`
	HTMLURL  string `json:"html_url"`
	GitURL   string `json:"git_url"`
}

func (r githubRepo) urls() []string { return []string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL} }

// githubPush is the part of a GitHub push payload we read.
type githubPush struct {
	Ref        string     `json:"ref"`
	Repository githubRepo `json:"repository"`
}

// githubHook receives GitHub webhooks, sent as application/json or as
// application/x-www-form-urlencoded with the JSON in the "payload" field
// (another Content-Type: 415). A ping is answered 200 and does nothing;
// event types other than push and pull_request are answered 202 "ignored".
// A push or pull_request is first authenticated: its X-Hub-Signature-256,
// the HMAC-SHA256 of the raw body as sent (the form body, for a form), is
// checked against every configured webhook_secret, and a delivery no
// secret signs gets 401 — the same status and body whether or not the
// repository it names is watched (403, again the same for every delivery,
// when no repo has a secret). Only then is it matched to a watched repo
// and branch: a push that repo's own secret signed polls it at once (202
// "triggered"), a pull request is handed to the PullRequestTarget (see
// githubPullRequest); anything else — another repo or branch, or a
// delivery signed with another repo's secret — is answered 202 "ignored".
func (s *Server) githubHook(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readHook(w, r)
	if !ok {
		return
	}
	payload, ok := hookPayload(w, r, body, true)
	if !ok {
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	switch event {
	case "ping":
		writeJSON(w, http.StatusOK, map[string]string{"status": "pong"})
		return
	case "push", "pull_request":
	case "":
		writeError(w, http.StatusBadRequest, "missing X-GitHub-Event header")
		return
	default:
		ignoreEvent(w, event)
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	auth := hookAuth{forge: "github", delivery: r.Header.Get("X-GitHub-Delivery"), refusal: msgBadSignature,
		verify: func(secret []byte) bool { return sources.VerifyGitHubSignature(secret, body, sig) }}
	if event == "pull_request" {
		s.githubPullRequest(w, payload, auth)
		return
	}
	var p githubPush
	if err := json.Unmarshal(payload, &p); err != nil {
		writeError(w, http.StatusBadRequest, "invalid push payload: "+err.Error())
		return
	}
	d, ok := s.authenticate(w, auth)
	if !ok {
		return
	}
	s.triggerPush(w, d, pushEvent{ref: p.Ref, urls: p.Repository.urls()})
}
