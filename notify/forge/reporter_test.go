package forge

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	forgeapi "github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/forge/github/githubtest"
	"github.com/driftless/driftless/notify"
)

const preview = forgeapi.CommentMarker + "\n## driftless plan\n\n| app | changes |\n| --- | --- |\n| `web` | 1 to change |\n"

// A deploy that succeeds, one that fails, a manual rollback and a rollout
// rolled back automatically: one deployment each, the statuses in order,
// links to the status page, and the PR's comment gains a line per
// finished deploy below the plan preview, which is kept.
func TestDeployLifecycle(t *testing.T) {
	h := newHarness(t)
	pr := h.gh.AddPullRequest(ghRepo, githubtest.PullRequest{Head: "greeting-v2", Base: "main", Title: "greeting v2", State: "closed"})
	h.gh.AddComment(ghRepo, pr, "Looks good")
	h.gh.AddComment(ghRepo, pr, preview)
	h.start(h.reporter(nil))
	h.publish(
		h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1", PR: pr}),
		h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{App: "api", Kind: "lambda_function", DeployID: "d2", PR: pr}),
		h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: "d1", PR: pr, DurationMS: 8123}),
		h.ev(notify.CatDeploy, notify.ActFailed, notify.Data{App: "api", Kind: "lambda_function", DeployID: "d2", PR: pr, Error: "boom\nstack"}),
		// worker: the rollout fails, the applier rolls back, the deploy fails.
		h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{App: "worker", DeployID: "d4", PR: pr}),
		h.ev(notify.CatRollback, notify.ActStarted, notify.Data{App: "worker", DeployID: "d4", PR: pr, Reason: "automatic", Error: "circuit breaker"}),
		h.ev(notify.CatRollback, notify.ActSucceeded, notify.Data{App: "worker", DeployID: "d4", PR: pr, Reason: "automatic"}),
		h.ev(notify.CatDeploy, notify.ActFailed, notify.Data{App: "worker", DeployID: "d4", PR: pr, Error: "rolled back"}),
		// a manual rollback of web to an older revision (no PR)
		h.ev(notify.CatRollback, notify.ActStarted, notify.Data{DeployID: "d3", Revision: shaB, Reason: "rollback"}),
		h.ev(notify.CatRollback, notify.ActSucceeded, notify.Data{DeployID: "d3", Revision: shaB, Reason: "rollback"}),
		// not deploys: ignored
		h.ev(notify.CatDrift, notify.ActDetected, notify.Data{}),
		h.ev(notify.CatPlan, notify.ActReady, notify.Data{DeployID: "d5"}),
	)
	h.drained(DefaultDurable)

	deps := h.gh.Deployments(ghRepo)
	got := map[string]githubtest.Deployment{}
	for _, d := range deps {
		got[fmt.Sprint(d.Payload["deploy_id"])] = d
	}
	if len(deps) != 4 || len(got) != 4 {
		t.Fatalf("%d deployments, want 4 (d1..d4): %+v", len(deps), deps)
	}
	want := map[string]struct{ env, ref, states string }{
		"d1": {"platform/web", shaA, "in_progress,success,inactive"}, // inactive: the rollback's success replaced it
		"d2": {"platform/api", shaA, "in_progress,failure"},
		"d3": {"platform/web", shaB, "in_progress,success"},
		"d4": {"platform/worker", shaA, "in_progress,in_progress,failure,failure"},
	}
	for id, w := range want {
		d := got[id]
		if d.Environment != w.env || d.Ref != w.ref || strings.Join(states(d), ",") != w.states {
			t.Errorf("%s: environment %s, ref %s, statuses %v; want %s, %s, %s", id, d.Environment, d.Ref[:7], states(d), w.env, w.ref[:7], w.states)
		}
	}
	if d := got["d3"]; !strings.Contains(d.Description, "rollback") || d.Payload["reason"] != "rollback" || d.Payload["rollback"] != "true" {
		t.Errorf("rollback deployment: description %q, payload %v", d.Description, d.Payload)
	}
	if d := got["d1"]; d.Payload["kind"] != "ecs_service" || d.Payload["reason"] != "commit" || !d.ProductionEnvironment || d.AutoMerge {
		t.Errorf("d1 = %+v", d)
	}
	st := got["d1"].Statuses[0]
	if st.EnvironmentURL != "https://driftless.example.com/apps/platform/web" || st.LogURL != st.EnvironmentURL {
		t.Errorf("status links = %q, %q", st.EnvironmentURL, st.LogURL)
	}
	if s := got["d2"].Statuses[1].Description; s != "Deploy failed: boom" {
		t.Errorf("failure description %q", s)
	}
	if s := got["d4"].Statuses[2].Description; !strings.Contains(s, "rolled back automatically") {
		t.Errorf("automatic rollback description %q", s)
	}

	cms := h.gh.Comments(ghRepo, pr)
	if len(cms) != 2 {
		t.Fatalf("%d comments, want the two there were", len(cms))
	}
	body := cms[1].Body
	wantBody := preview + "\n" + DeploymentsHeading + "\n" +
		"- ✅ [`web`](https://driftless.example.com/apps/platform/web) (ecs_service) deployed 0123456 at " + h.stamp() + " — deploy `d1`\n" +
		"- ❌ [`api`](https://driftless.example.com/apps/platform/api) (lambda_function) failed to deploy 0123456 at " + h.stamp() + " — deploy `d2`\n" +
		"- ↩️ [`worker`](https://driftless.example.com/apps/platform/worker) (ecs_service) rolled back automatically after a failed rollout of 0123456 at " + h.stamp() + " — deploy `d4`\n" +
		"- ❌ [`worker`](https://driftless.example.com/apps/platform/worker) (ecs_service) failed to deploy 0123456 at " + h.stamp() + " — deploy `d4`\n"
	if body != wantBody {
		t.Errorf("comment:\n%s\nwant:\n%s", body, wantBody)
	}
}

// Without a comment on the PR one is created with the marker; without
// external_url the statuses carry no links.
func TestCommentCreatedWhenMissing(t *testing.T) {
	h := newHarness(t)
	pr := h.gh.AddPullRequest(ghRepo, githubtest.PullRequest{Head: "x", Base: "main", Title: "x", State: "closed"})
	h.start(h.reporter(func(o *Options) { o.ExternalURL = "" }))
	h.publish(
		h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1", PR: pr}),
		h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: "d1", PR: pr}),
		h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{App: "gone", DeployID: "d9", PR: 4242}), // no such PR
	)
	h.drained(DefaultDurable)
	cms := h.gh.Comments(ghRepo, pr)
	want := forgeapi.CommentMarker + "\n\n" + DeploymentsHeading + "\n- ✅ `web` (ecs_service) deployed 0123456 at " + h.stamp() + " — deploy `d1`\n"
	if len(cms) != 1 || cms[0].Body != want {
		t.Fatalf("comments = %+v\nwant one: %q", cms, want)
	}
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 2 || deps[0].Statuses[0].EnvironmentURL != "" || deps[0].Statuses[0].LogURL != "" {
		t.Fatalf("deployments = %+v", deps)
	}
}

// The first status call fails (502): the event is redelivered, and the
// deployment created on the first delivery is reused. A replay of the
// same event (published again) changes nothing.
func TestRedeliveredStartedCreatesOneDeployment(t *testing.T) {
	h := newHarness(t)
	var failed atomic.Bool
	h.gh.SetFault(func(r githubtest.Request) *githubtest.Fault {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/statuses") && !failed.Swap(true) {
			return githubtest.Status(http.StatusBadGateway, "Server Error")
		}
		return nil
	})
	h.start(h.reporter(nil))
	started := h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"})
	h.publish(started)
	h.drained(DefaultDurable)
	h.publishAs("replay-1", started)
	h.drained(DefaultDurable)
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 1 || strings.Join(states(deps[0]), ",") != "in_progress" {
		t.Fatalf("deployments = %+v; want one, in_progress once", deps)
	}
	if n := h.gh.Count(http.MethodPost, "/deployments"); n != 1 {
		t.Errorf("%d deployments created", n)
	}
	if n := h.gh.Count(http.MethodPost, "/statuses"); n != 2 {
		t.Errorf("%d status calls, want 2 (the failed one and its retry)", n)
	}
}

// Another replica with its own bucket (or a restart that lost the
// record) finds the deployment on GitHub by its payload's deploy id.
func TestRestartFindsDeploymentOnGitHub(t *testing.T) {
	h := newHarness(t)
	stop := h.start(h.reporter(func(o *Options) { o.Durable, o.Bucket = "first", "FIRST" }))
	h.publish(h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"}))
	h.drained("first")
	stop()
	h.publish(h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: "d1"}))
	h.start(h.reporter(func(o *Options) { o.Durable, o.Bucket = "second", "SECOND" }))
	h.drained("second")
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 1 || strings.Join(states(deps[0]), ",") != "in_progress,in_progress,success" {
		t.Fatalf("deployments = %+v; want one whose last status is success", deps)
	}
	if n := h.gh.Count(http.MethodGet, "/deployments"); n != 2 {
		t.Errorf("%d deployment lookups, want 2 (the first replica's before creating, the second's)", n)
	}
}

// Two replicas share the durable consumer: every deploy is one deployment
// with its statuses in order.
func TestTwoReplicasOneDeploymentEach(t *testing.T) {
	h := newHarness(t)
	h.start(h.reporter(nil))
	h.start(h.reporter(nil))
	for i := range 8 {
		app, id := fmt.Sprintf("app%d", i), fmt.Sprintf("d%d", i)
		h.publish(
			h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{App: app, DeployID: id}),
			h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{App: app, DeployID: id}),
		)
	}
	h.drained(DefaultDurable)
	// The consumer's info once read drained with 2 of 8 deploys reported
	// (seen once in CI, not reproduced in 70 runs since; its pending
	// count with several filter subjects is the suspect): wait for what
	// a user sees, 8 deployments that succeeded (an extra one, or a
	// status twice, still fails below).
	waitFor(t, "8 deployments that succeeded", func() bool {
		n := 0
		for _, d := range h.gh.Deployments(ghRepo) {
			if st := states(d); len(st) > 0 && st[len(st)-1] == "success" {
				n++
			}
		}
		return n >= 8
	})
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 8 {
		t.Fatalf("%d deployments, want 8", len(deps))
	}
	for _, d := range deps {
		if strings.Join(states(d), ",") != "in_progress,success" {
			t.Errorf("%s: statuses %v", d.Environment, states(d))
		}
	}
}

// Repos elsewhere (GitLab, a file path, github.com while the forge is a
// GitHub Enterprise) make no call at all.
func TestRepoNotOnGitHubIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.start(h.reporter(nil))
	for i, u := range []string{"https://gitlab.com/acme/infra.git", "/srv/git/infra", "https://github.com/acme/infra.git"} {
		id := fmt.Sprint("d", i)
		h.publish(
			h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: id, RepoURL: u, PR: 1}),
			h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: id, RepoURL: u, PR: 1}),
		)
	}
	h.drained(DefaultDurable)
	if reqs := h.gh.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests to GitHub, want none: %+v", len(reqs), reqs[0])
	}
}

// An interrupted deploy's failure carries no repo_url: the configured
// clone URL of the repo is used.
func TestRepoURLFromConfig(t *testing.T) {
	h := newHarness(t)
	h.start(h.reporter(func(o *Options) { o.RepoURLs = map[string]string{"platform": h.gh.CloneURL(ghRepo)} }))
	ev := h.ev(notify.CatDeploy, notify.ActFailed, notify.Data{DeployID: "d1", Error: "interrupted: replica \"a\" stopped"})
	ev.Data.RepoURL = ""
	h.publish(ev)
	h.drained(DefaultDurable)
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 1 || strings.Join(states(deps[0]), ",") != "failure" {
		t.Fatalf("deployments = %+v", deps)
	}
}

// A refused token is retried later without giving up; an event GitHub
// will never take (422) is dropped and the next one goes through.
func TestAuthRetriedAndPermanentDropped(t *testing.T) {
	h := newHarness(t)
	var n atomic.Int32
	h.gh.SetFault(func(r githubtest.Request) *githubtest.Fault {
		if n.Add(1) <= 3 {
			return githubtest.Status(http.StatusUnauthorized, "Bad credentials")
		}
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/deployments") && r.Body["environment"] == "platform/bad" {
			return githubtest.Status(http.StatusUnprocessableEntity, "No ref found for: "+shaB)
		}
		return nil
	})
	h.start(h.reporter(nil))
	h.publish(
		h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{App: "bad", DeployID: "d0", Revision: shaB}),
		h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"}),
	)
	h.drained(DefaultDurable)
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 1 || deps[0].Environment != "platform/web" {
		t.Fatalf("deployments = %+v", deps)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "refused the token") || !strings.Contains(logs, "dropping it") || strings.Contains(logs, ghToken) {
		t.Errorf("logs do not say what happened (or hold the token):\n%s", logs)
	}
}

// Turning the reporter on does not replay old deploys onto GitHub: events
// older than Backfill before the consumer was created are skipped.
func TestOldEventsNotBackfilled(t *testing.T) {
	h := newHarness(t)
	old := h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{App: "old", DeployID: "d0"})
	old.Time = time.Now().Add(-2 * time.Hour)
	h.publish(old, h.ev(notify.CatDeploy, notify.ActStarted, notify.Data{DeployID: "d1"}))
	h.start(h.reporter(nil))
	h.drained(DefaultDurable)
	deps := h.gh.Deployments(ghRepo)
	if len(deps) != 1 || deps[0].Environment != "platform/web" {
		t.Fatalf("deployments = %+v; want only the recent one", deps)
	}
}

// A token that may deploy but not comment (403 on comments) still gets
// every deployment reported; the comment line is given up with an error.
func TestCommentPermissionDoesNotBlock(t *testing.T) {
	h := newHarness(t)
	pr := h.gh.AddPullRequest(ghRepo, githubtest.PullRequest{Head: "x", Base: "main", Title: "x", State: "closed"})
	h.gh.SetFault(func(r githubtest.Request) *githubtest.Fault {
		if strings.Contains(r.Path, "/comments") {
			return githubtest.Status(http.StatusForbidden, "Resource not accessible by personal access token")
		}
		return nil
	})
	h.start(h.reporter(nil))
	h.publish(
		h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{DeployID: "d1", PR: pr}),
		h.ev(notify.CatDeploy, notify.ActSucceeded, notify.Data{App: "api", DeployID: "d2", PR: pr}),
	)
	h.drained(DefaultDurable)
	if deps := h.gh.Deployments(ghRepo); len(deps) != 2 {
		t.Fatalf("%d deployments, want 2", len(deps))
	}
	if !strings.Contains(h.logs.String(), "may not comment on pull requests") {
		t.Error("the missing permission is not logged")
	}
}
