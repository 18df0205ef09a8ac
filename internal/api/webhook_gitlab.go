package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"
)

// gitlabPush is the part of a GitLab push payload we read.
type gitlabPush struct {
	Ref     string `json:"ref"`
	Project struct {
		GitHTTPURL string `json:"git_http_url"`
		GitSSHURL  string `json:"git_ssh_url"`
		WebURL     string `json:"web_url"`
	} `json:"project"`
	Repository struct {
		GitHTTPURL string `json:"git_http_url"`
		GitSSHURL  string `json:"git_ssh_url"`
		Homepage   string `json:"homepage"`
	} `json:"repository"`
}

func (p gitlabPush) urls() []string {
	return []string{p.Project.GitHTTPURL, p.Project.GitSSHURL, p.Project.WebURL,
		p.Repository.GitHTTPURL, p.Repository.GitSSHURL, p.Repository.Homepage}
}

// gitlabHook receives GitLab webhooks (application/json; another
// Content-Type: 415). "X-Gitlab-Event: Push Hook" is handled as a GitHub
// push is: its X-Gitlab-Token must be one of the configured
// webhook_secrets (each compared in constant time, 401 otherwise, the same
// whatever the payload names), then project.git_http_url, git_ssh_url,
// web_url and repository.git_http_url, git_ssh_url, homepage and ref are
// matched to a watched repo and branch whose own secret it is: 202
// "triggered". Every other event (Tag Push Hook, System Hook, Merge
// Request Hook…) is answered 202 "ignored".
func (s *Server) gitlabHook(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readHook(w, r)
	if !ok {
		return
	}
	payload, ok := hookPayload(w, r, body, false)
	if !ok {
		return
	}
	switch event := r.Header.Get("X-Gitlab-Event"); event {
	case "Push Hook":
	case "":
		writeError(w, http.StatusBadRequest, "missing X-Gitlab-Event header")
		return
	default:
		ignoreEvent(w, event)
		return
	}
	var p gitlabPush
	if err := json.Unmarshal(payload, &p); err != nil {
		writeError(w, http.StatusBadRequest, "invalid push payload: "+err.Error())
		return
	}
	token := r.Header.Get("X-Gitlab-Token")
	d, ok := s.authenticate(w, hookAuth{forge: "gitlab", delivery: r.Header.Get("X-Gitlab-Event-UUID"), refusal: msgBadGitLabToken,
		verify: func(secret []byte) bool { return tokenMatches(secret, token) }})
	if !ok {
		return
	}
	s.triggerPush(w, d, pushEvent{ref: p.Ref, urls: p.urls()})
}

// tokenMatches reports whether token is secret. Both are hashed first, so
// that the constant-time comparison does not depend on their lengths
// either. It is false for an empty secret or token.
func tokenMatches(secret []byte, token string) bool {
	if len(secret) == 0 || token == "" {
		return false
	}
	a, b := sha256.Sum256(secret), sha256.Sum256([]byte(token))
	return hmac.Equal(a[:], b[:])
}
