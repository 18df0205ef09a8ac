package main

import (
	"context"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/state"
)

// apiAdapter serves the HTTP API from the controller. Both speak the
// state package's types and errors; only the action request differs.
type apiAdapter struct{ *reconciler.Controller }

func (a apiAdapter) Act(ctx context.Context, r api.ActionRequest) (state.AppState, error) {
	return a.Controller.Act(ctx, reconciler.Action{Repo: r.Repo, App: r.App, Action: r.Action, To: r.To,
		Previous: r.Previous, Revert: r.Revert, Caller: r.Caller, PlanID: r.PlanID})
}

// webhooks maps GitHub, GitLab and Gitea push webhooks to the configured
// repos, and GitHub pull requests to prs.
type webhooks struct {
	cfg  *config.Config
	ctrl *reconciler.Controller
	nc   *nats.Conn // tells the other replicas; nil in tests
	// prs starts (or, for closed, cancels) a pull request preview; nil:
	// previews are off and every pull request is ignored.
	prs func(api.PullRequestEvent) bool
}

var _ api.PullRequestTarget = webhooks{}

// PullRequest hands ev to prs; false when there is none.
func (w webhooks) PullRequest(ev api.PullRequestEvent) bool {
	return w.prs != nil && w.prs(ev)
}

func (w webhooks) WebhookSecrets() map[string][]byte {
	m := map[string][]byte{}
	for _, r := range w.cfg.Repos {
		if r.WebhookSecret.IsSet() && r.WebhookSecret.Value() != "" {
			m[r.Name] = []byte(r.WebhookSecret.Value())
		}
	}
	return m
}

func (w webhooks) RepoForPush(cloneURLs []string, ref string) (string, bool) {
	for _, r := range w.cfg.Repos {
		if ref != "refs/heads/"+r.Branch {
			continue
		}
		for _, u := range cloneURLs {
			if u != "" && sameRepoURL(u, r.URL) {
				return r.Name, true
			}
		}
	}
	return "", false
}

func (w webhooks) Trigger(repo string) {
	w.ctrl.Trigger(repo)
	if w.nc != nil {
		publishTrigger(w.nc, w.cfg.Holder(), repo)
	}
}

// triggerFrom names the replica that published a trigger: it has
// triggered its own loop already, and ignores its own message (one poll per
// push, not two).
const triggerFrom = "Driftless-Holder"

// publishTrigger asks the replica reconciling repo to poll now.
func publishTrigger(nc *nats.Conn, holder, repo string) {
	msg := nats.NewMsg(triggerSubject + repo)
	msg.Header.Set(triggerFrom, holder)
	_ = nc.PublishMsg(msg)
}

// ownTrigger reports whether msg was published by this replica (holder).
func ownTrigger(msg *nats.Msg, holder string) bool {
	return msg.Header != nil && msg.Header.Get(triggerFrom) == holder
}

// sameRepoURL compares repository URLs ignoring scheme, credentials, case
// of the host, a trailing ".git" and the scp-like form.
func sameRepoURL(a, b string) bool { return canonicalRepo(a) == canonicalRepo(b) }

func canonicalRepo(u string) string {
	u = strings.TrimSpace(u)
	if !strings.Contains(u, "://") {
		// scp-like git@github.com:org/repo.git
		if at := strings.Index(u, "@"); at >= 0 {
			if host, path, ok := strings.Cut(u[at+1:], ":"); ok {
				u = "ssh://" + host + "/" + path
			}
		} else {
			return strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
		}
	}
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	path := strings.TrimSuffix(strings.TrimSuffix(p.Path, "/"), ".git")
	return strings.ToLower(p.Hostname()) + path
}
