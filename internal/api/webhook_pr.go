package api

import (
	"encoding/json"
	"net/http"
	"strings"
)

// PullRequestEvent is a pull request opened, pushed to, reopened or closed, as a webhook told it.
type PullRequestEvent struct {
	Repo     string // the watched repo's config name
	Number   int
	Action   string // opened, synchronize, reopened, closed
	Merged   bool
	HeadSHA  string
	HeadRef  string // branch in the head repository
	BaseRef  string
	BaseSHA  string
	Fork     bool // head repository differs from the base repository
	Title    string
	URL      string // html_url
	Author   string // user.login
	Delivery string // X-GitHub-Delivery
}

// PullRequestTarget is implemented by a WebhookTarget that previews pull requests.
type PullRequestTarget interface {
	// PullRequest starts (or cancels, for closed) a preview; it must not block. false: previews are not enabled for ev.Repo.
	PullRequest(ev PullRequestEvent) bool
}

// prActions are the pull_request actions handed to a PullRequestTarget.
var prActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true, "closed": true}

// githubPR is the part of a GitHub pull_request payload we read.
type githubPR struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number  int    `json:"number"`
		HTMLURL string `json:"html_url"`
		Title   string `json:"title"`
		Merged  bool   `json:"merged"`
		User    struct {
			Login string `json:"login"`
		} `json:"user"`
		Head githubPRBranch `json:"head"`
		Base githubPRBranch `json:"base"`
	} `json:"pull_request"`
}

type githubPRBranch struct {
	Ref  string      `json:"ref"`
	SHA  string      `json:"sha"`
	Repo *githubRepo `json:"repo"` // null when the head fork was deleted
}

// githubPullRequest handles a pull_request delivery: once authenticated
// (as a push is), an opened, synchronize, reopened or closed pull request
// whose base is the tracked branch of a watched repo — named by the base
// repository's clone, ssh, html or git URL, and whose own secret signed
// the delivery — is handed to the webhook target's PullRequest: 202
// {"status": "preview", "repo": R, "pr": N} when it takes it. Other
// actions, repos and branches, and a target that does not preview (no
// PullRequestTarget, or PullRequest false), get 202 "ignored".
func (s *Server) githubPullRequest(w http.ResponseWriter, payload []byte, auth hookAuth) {
	var p githubPR
	if err := json.Unmarshal(payload, &p); err != nil {
		writeError(w, http.StatusBadRequest, "invalid pull_request payload: "+err.Error())
		return
	}
	d, ok := s.authenticate(w, auth)
	if !ok {
		return
	}
	if !prActions[p.Action] {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": "pull_request action " + p.Action + " is not handled"})
		return
	}
	pr := p.PullRequest
	if pr == nil || pr.Base.Repo == nil || pr.Base.Ref == "" {
		writeError(w, http.StatusBadRequest, "pull_request payload has no base repository or ref")
		return
	}
	repo, ok := s.watchedRepo(d, nonEmpty(pr.Base.Repo.urls()), "refs/heads/"+pr.Base.Ref)
	if !ok {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": msgIgnored})
		return
	}
	target, ok := s.hooks.(PullRequestTarget)
	ev := PullRequestEvent{
		Repo: repo, Number: pr.Number, Action: p.Action, Merged: pr.Merged,
		HeadSHA: pr.Head.SHA, HeadRef: pr.Head.Ref, BaseRef: pr.Base.Ref, BaseSHA: pr.Base.SHA,
		Fork: isFork(pr.Head.Repo, pr.Base.Repo), Title: pr.Title, URL: pr.HTMLURL, Author: pr.User.Login,
		Delivery: d.id,
	}
	if ev.Number == 0 {
		ev.Number = p.Number
	}
	if !ok || !target.PullRequest(ev) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "ignored", "reason": "pull request previews are not enabled for this repo"})
		return
	}
	s.log.Info("webhook pull_request", "forge", d.forge, "repo", repo, "pr", ev.Number, "action", ev.Action,
		"head", ev.HeadSHA, "fork", ev.Fork, "delivery", d.id)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "preview", "repo": repo, "pr": ev.Number})
}

// isFork reports whether a pull request's head repository is not its base
// repository (a deleted head fork counts as a fork).
func isFork(head, base *githubRepo) bool {
	if head == nil {
		return true
	}
	if head.ID != 0 && base.ID != 0 {
		return head.ID != base.ID
	}
	return !strings.EqualFold(head.FullName, base.FullName)
}
