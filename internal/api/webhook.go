package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// Answers that are the same for every delivery to an endpoint, whatever
// its payload names, so that they tell nothing about which repositories
// and branches are watched.
const (
	msgBadSignature      = "missing or invalid X-Hub-Signature-256"
	msgBadGitLabToken    = "missing or invalid X-Gitlab-Token"
	msgBadGiteaSignature = "missing or invalid X-Gitea-Signature (or X-Forgejo-Signature)"
	msgNoSecrets         = "webhooks are refused: no repo has a webhook_secret configured"
	msgIgnored           = "not a watched repository and branch"
)

// Content types a webhook body may have. A request without Content-Type
// is read as JSON.
const (
	contentJSON = "application/json"
	contentForm = "application/x-www-form-urlencoded"
)

// hookAuth is how one forge proves a delivery: verify reports whether a
// configured secret signed it (GitHub, Gitea) or is the token it carries
// (GitLab).
type hookAuth struct {
	forge    string // github, gitlab or gitea, for logs
	delivery string // the forge's delivery id, for logs
	refusal  string // the 401 message, the same for every delivery
	verify   func(secret []byte) bool
}

// delivery is an authenticated webhook: the repos whose secret it carries.
type delivery struct {
	forge, id string
	signedBy  map[string]bool
}

// pushEvent is a branch push as any forge tells it: the ref and every URL
// the forge gives for the repository.
type pushEvent struct {
	ref  string
	urls []string
}

// readHook reads a webhook body, at most MaxWebhookBody bytes. false: the
// request has been answered (404 without a webhook target, 413, 400).
func (s *Server) readHook(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if s.hooks == nil {
		writeError(w, http.StatusNotFound, "webhooks are not enabled")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("webhook body exceeds %d bytes", MaxWebhookBody))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "read webhook body: "+err.Error())
		return nil, false
	}
	return body, true
}

// hookPayload is the JSON payload of a webhook body: the body itself for
// application/json (or no Content-Type), the "payload" field of an
// application/x-www-form-urlencoded body when formOK. false: the request
// has been answered (415 for another content type, 400 for a form without
// a payload).
func hookPayload(w http.ResponseWriter, r *http.Request, body []byte, formOK bool) ([]byte, bool) {
	accepted := contentJSON
	if formOK {
		accepted += " or " + contentForm
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return body, true
	}
	media, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		writeError(w, http.StatusUnsupportedMediaType, "unreadable Content-Type: send "+accepted)
		return nil, false
	case media == contentJSON:
		return body, true
	case media == contentForm && formOK:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid form body: "+err.Error())
			return nil, false
		}
		if !form.Has("payload") {
			writeError(w, http.StatusBadRequest, "form body has no payload field")
			return nil, false
		}
		return []byte(form.Get("payload")), true
	default:
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %.64q: send %s", media, accepted))
		return nil, false
	}
}

// authenticate checks a delivery against every configured webhook_secret:
// each one, with no early exit, so that the time taken depends on the
// number of secrets and not on which one matched. A delivery no secret
// proves gets 401 with a.refusal (403 when no repo has a secret), before
// anything about the repository it names is looked up. false: the request
// has been answered.
func (s *Server) authenticate(w http.ResponseWriter, a hookAuth) (*delivery, bool) {
	secrets := s.hooks.WebhookSecrets()
	if len(secrets) == 0 {
		writeError(w, http.StatusForbidden, msgNoSecrets)
		return nil, false
	}
	d := &delivery{forge: a.forge, id: a.delivery, signedBy: map[string]bool{}}
	for repo, secret := range secrets {
		if a.verify(secret) {
			d.signedBy[repo] = true
		}
	}
	if len(d.signedBy) == 0 {
		s.log.Warn("webhook rejected", "forge", a.forge, "delivery", a.delivery)
		writeError(w, http.StatusUnauthorized, a.refusal)
		return nil, false
	}
	return d, true
}

// watchedRepo is the watched repo one of urls names whose tracked branch
// is ref, when that repo's own secret authenticated d.
func (s *Server) watchedRepo(d *delivery, urls []string, ref string) (string, bool) {
	repo, ok := s.hooks.RepoForPush(urls, ref)
	if ok && !d.signedBy[repo] {
		s.log.Warn("webhook signed with another repo's webhook_secret; ignored", "forge", d.forge, "repo", repo, "delivery", d.id)
		return "", false
	}
	return repo, ok
}

// triggerPush polls the watched repo p names (202 "triggered") or answers
// 202 "ignored" (another repo or branch, or a repo whose secret did not
// authenticate d); 400 when p has no ref or URL.
func (s *Server) triggerPush(w http.ResponseWriter, d *delivery, p pushEvent) {
	urls := nonEmpty(p.urls)
	if len(urls) == 0 || p.ref == "" {
		writeError(w, http.StatusBadRequest, "push payload has no repository URL or ref")
		return
	}
	repo, ok := s.watchedRepo(d, urls, p.ref)
	if !ok {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": msgIgnored})
		return
	}
	s.log.Info("webhook push", "forge", d.forge, "repo", repo, "ref", p.ref, "delivery", d.id)
	s.hooks.Trigger(repo)
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "triggered", "repo": repo})
}

// ignoreEvent answers 202 "ignored" for an event the endpoint does not handle.
func ignoreEvent(w http.ResponseWriter, event string) {
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": "event " + event + " is not handled"})
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
