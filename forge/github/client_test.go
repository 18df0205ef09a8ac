package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/forge/github/githubtest"
)

const token = "ghp_TestToken0123456789abcdefABCDEF"

var acme = forge.Repo{Owner: "acme", Name: "infra"}

func newClient(t *testing.T, srv *githubtest.Server, tok string) (*Client, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	c, err := New(Options{Token: tok, APIURL: srv.APIURL(), Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return c, &logs
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestNewAPIURL(t *testing.T) {
	c, err := New(Options{Token: token})
	if err != nil || c.gh.BaseURL() != "https://api.github.com/" {
		t.Fatalf("default base URL = %v, %v", c.gh.BaseURL(), err)
	}
	c, err = New(Options{Token: token, APIURL: "https://ghe.example.com/api/v3"})
	if err != nil || c.gh.BaseURL() != "https://ghe.example.com/api/v3/" {
		t.Fatalf("GHE base URL = %v, %v", c.gh.BaseURL(), err)
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a token: no error")
	}
}

// The marked comment is the 105th of 120: it is found on the second page
// and edited in place; nothing is created.
func TestUpsertCommentEditsInPlaceAcrossPages(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	pr := srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "feature", Base: "main", Title: "x"})
	var want int64
	for i := 1; i <= 120; i++ {
		body := fmt.Sprintf("comment %d", i)
		if i == 105 {
			body = forge.CommentMarker + "\nold plan"
		}
		if id := srv.AddComment("acme/infra", pr, body); i == 105 {
			want = id
		}
	}
	c, _ := newClient(t, srv, token)
	id, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, forge.CommentMarker+"\nnew plan")
	if err != nil || id != want {
		t.Fatalf("UpsertComment = %d, %v; want %d", id, err, want)
	}
	cms := srv.Comments("acme/infra", pr)
	if len(cms) != 120 || cms[104].Body != forge.CommentMarker+"\nnew plan" {
		t.Fatalf("%d comments, 105th = %q", len(cms), cms[104].Body)
	}
	var pages []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			pages = append(pages, r.Query.Get("page")+"/"+r.Query.Get("per_page"))
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, got)
		}
		if a := r.Header.Get("Accept"); !strings.HasPrefix(a, "application/vnd.github") {
			t.Errorf("%s %s: Accept %q", r.Method, r.Path, a)
		}
	}
	if strings.Join(pages, ",") != "/100,2/100" {
		t.Errorf("listed pages %v, want the first and second of 100", pages)
	}
	if n := srv.Count(http.MethodPatch, fmt.Sprintf("/issues/comments/%d", want)); n != 1 {
		t.Errorf("%d PATCH of the comment, want 1", n)
	}
	if n := srv.Count(http.MethodPost, "/comments"); n != 0 {
		t.Errorf("%d comments created, want 0", n)
	}
	// The same body again: no edit at all.
	if _, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, forge.CommentMarker+"\nnew plan"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count(http.MethodPatch, ""); n != 1 {
		t.Errorf("an unchanged body was edited again (%d PATCH)", n)
	}
	_, body, err := c.FindComment(ctx(t), acme, pr, forge.CommentMarker)
	if err != nil || body != forge.CommentMarker+"\nnew plan" {
		t.Fatalf("FindComment = %q, %v", body, err)
	}
}

func TestUpsertCommentCreatesThenEdits(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	pr := srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "feature", Base: "main", Title: "x"})
	srv.AddComment("acme/infra", pr, "LGTM")
	c, _ := newClient(t, srv, token)
	if _, _, err := c.FindComment(ctx(t), acme, pr, forge.CommentMarker); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("FindComment without one: %v, want ErrNotFound", err)
	}
	id1, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, forge.CommentMarker+"\nv1")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, forge.CommentMarker+"\nv2")
	if err != nil || id2 != id1 {
		t.Fatalf("second upsert = %d, %v; want the same comment %d", id2, err, id1)
	}
	cms := srv.Comments("acme/infra", pr)
	if len(cms) != 2 || cms[1].Body != forge.CommentMarker+"\nv2" {
		t.Fatalf("comments = %+v", cms)
	}
	if _, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, "no marker"); err == nil {
		t.Fatal("a body without the marker was accepted")
	}
	if _, err := c.UpsertComment(ctx(t), acme, 999, forge.CommentMarker, forge.CommentMarker); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("comment on a missing PR: %v, want ErrNotFound", err)
	}
}

// A body over GitHub's limit (the server refuses those with 422) is cut
// at a line, its open code fence closed, with a note.
func TestLongBodyIsCut(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	pr := srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "feature", Base: "main", Title: "x"})
	c, _ := newClient(t, srv, token)
	body := forge.CommentMarker + "\n```diff\n" + strings.Repeat("+ résource \"x\" changed\n", 4000)
	if _, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, body); err != nil {
		t.Fatal(err)
	}
	got := srv.Comments("acme/infra", pr)[0].Body
	if n := utf8.RuneCountInString(got); n > MaxBody || n < MaxBody-200 {
		t.Errorf("stored body has %d characters, want just under %d", n, MaxBody)
	}
	if !strings.HasPrefix(got, forge.CommentMarker) || !strings.HasSuffix(got, cutNote) || strings.Count(got, "```")%2 != 0 {
		t.Errorf("cut body: prefix %q, suffix %q, %d fences", got[:40], got[len(got)-120:], strings.Count(got, "```"))
	}
	if strings.Contains(got, "changed\n+ r\n") {
		t.Error("cut inside a line")
	}
}

func TestSetStatus(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	c, _ := newClient(t, srv, token)
	sha := strings.Repeat("a", 40)
	err := c.SetStatus(ctx(t), acme, sha, forge.CommitStatus{State: forge.StatusPending, Context: "driftless/plan",
		Description: strings.Repeat("planning 3 stacks ", 20), TargetURL: "https://driftless.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	st := srv.CommitStatuses("acme/infra")
	if len(st) != 1 || st[0].SHA != sha || st[0].State != "pending" || st[0].Context != "driftless/plan" ||
		st[0].TargetURL != "https://driftless.example.com/" || utf8.RuneCountInString(st[0].Description) != MaxDescription ||
		!strings.HasSuffix(st[0].Description, "…") {
		t.Fatalf("statuses = %+v", st)
	}
}

// The commit carries a pending driftless/plan status: the deployment is
// still created (required_contexts is empty), with the documented fields.
func TestDeploymentAndStatuses(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	c, _ := newClient(t, srv, token)
	sha := strings.Repeat("b", 40)
	if err := c.SetStatus(ctx(t), acme, sha, forge.CommitStatus{State: forge.StatusPending, Context: "driftless/plan"}); err != nil {
		t.Fatal(err)
	}
	d := forge.Deployment{Ref: sha, Environment: "platform/web", Description: "deploy of web",
		Payload: map[string]string{"deploy_id": "d-1", "kind": "ecs_service"}}
	first, err := c.CreateDeployment(ctx(t), acme, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []forge.DeploymentStatus{
		{State: forge.DeployInProgress, Description: "deploying", EnvironmentURL: "https://d.example.com/apps/platform/web", LogURL: "https://d.example.com/apps/platform/web"},
		{State: forge.DeploySuccess, Description: strings.Repeat("ok ", 100)},
	} {
		if err := c.SetDeploymentStatus(ctx(t), acme, first, st); err != nil {
			t.Fatal(err)
		}
	}
	d.Payload = map[string]string{"deploy_id": "d-2"}
	second, err := c.CreateDeployment(ctx(t), acme, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetDeploymentStatus(ctx(t), acme, second, forge.DeploymentStatus{State: forge.DeploySuccess}); err != nil {
		t.Fatal(err)
	}
	deps := srv.Deployments("acme/infra")
	if len(deps) != 2 {
		t.Fatalf("%d deployments", len(deps))
	}
	got := deps[0]
	if got.Ref != sha || got.Environment != "platform/web" || got.AutoMerge || got.RequiredContexts == nil ||
		len(got.RequiredContexts) != 0 || got.TransientEnvironment || !got.ProductionEnvironment ||
		got.Payload["deploy_id"] != "d-1" || got.Payload["kind"] != "ecs_service" {
		t.Errorf("deployment = %+v", got)
	}
	var states []string
	for _, st := range got.Statuses {
		states = append(states, st.State)
	}
	if strings.Join(states, ",") != "in_progress,success,inactive" {
		t.Errorf("statuses of the first deployment: %v (a later success makes it inactive)", states)
	}
	if s := got.Statuses[0]; s.EnvironmentURL != "https://d.example.com/apps/platform/web" || s.LogURL != s.EnvironmentURL || !s.AutoInactive {
		t.Errorf("in_progress status = %+v", s)
	}
	if s := got.Statuses[1]; utf8.RuneCountInString(s.Description) > MaxDescription || s.EnvironmentURL != "" {
		t.Errorf("success status = %+v", s)
	}
	for _, q := range []struct {
		id   string
		want int64
	}{{"d-1", first}, {"d-2", second}} {
		id, err := c.FindDeployment(ctx(t), acme, forge.DeploymentQuery{Ref: sha, Environment: "platform/web", Key: "deploy_id", Value: q.id})
		if err != nil || id != q.want {
			t.Errorf("FindDeployment(%s) = %d, %v; want %d", q.id, id, err, q.want)
		}
	}
	if _, err := c.FindDeployment(ctx(t), acme, forge.DeploymentQuery{Ref: sha, Environment: "platform/api", Key: "deploy_id", Value: "d-1"}); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("FindDeployment in another environment: %v, want ErrNotFound", err)
	}
	var list []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			list = append(list, r.Path+"?"+r.Query.Encode())
		}
	}
	if len(list) == 0 || list[0] != "/repos/acme/infra/deployments?environment=platform%2Fweb&per_page=100&sha="+sha {
		t.Errorf("list request = %v", list)
	}
	if err := c.SetDeploymentStatus(ctx(t), acme, 424242, forge.DeploymentStatus{State: forge.DeployFailure}); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("status of a missing deployment: %v", err)
	}
	srv.SetFault(func(r githubtest.Request) *githubtest.Fault {
		return githubtest.Status(http.StatusConflict, "Conflict merging main into feature.")
	})
	_, err = c.CreateDeployment(ctx(t), acme, d)
	var ce *forge.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "merge conflict") {
		t.Errorf("409: %v, want a ConflictError saying so", err)
	}
}

func TestOpenPullRequestCreateThenUpdate(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "other", Base: "main", Title: "someone else's"})
	c, _ := newClient(t, srv, token)
	pr := forge.PullRequest{Head: "driftless/drift-web", Base: "main", Title: "Drift in web", Body: "v1"}
	ref, err := c.OpenPullRequest(ctx(t), acme, pr)
	if err != nil || !ref.Created || ref.Number != 2 || !strings.HasSuffix(ref.URL, "/acme/infra/pull/2") {
		t.Fatalf("first OpenPullRequest = %+v, %v", ref, err)
	}
	pr.Title, pr.Body = "Drift in web (2 resources)", "v2"
	ref2, err := c.OpenPullRequest(ctx(t), acme, pr)
	if err != nil || ref2.Created || ref2.Number != ref.Number {
		t.Fatalf("second OpenPullRequest = %+v, %v", ref2, err)
	}
	prs := srv.PullRequests("acme/infra")
	if len(prs) != 2 || prs[1].Title != pr.Title || prs[1].Body != "v2" || prs[1].Head != pr.Head || prs[1].Base != "main" {
		t.Fatalf("pull requests = %+v", prs)
	}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && (r.Query.Get("head") != "acme:driftless/drift-web" || r.Query.Get("state") != "open") {
			t.Errorf("list query %v", r.Query)
		}
	}
	if srv.Count(http.MethodPatch, "/pulls/2") != 1 || srv.Count(http.MethodPost, "/pulls") != 1 {
		t.Errorf("want one POST /pulls and one PATCH /pulls/2: %+v", srv.Requests())
	}
}

// The issue to edit is found by its marker among 105 open driftless issues
// (two pages); pull requests listed by the endpoint are skipped.
func TestOpenIssueByMarker(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	marker := "<!-- driftless:drift:platform/web -->"
	srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "x", Base: "main", Title: "PR", Body: marker})
	srv.AddIssue("acme/infra", githubtest.Issue{Title: "closed one", Body: marker, State: "closed", Labels: []string{"driftless"}})
	srv.AddIssue("acme/infra", githubtest.Issue{Title: "unlabelled", Body: marker})
	c, _ := newClient(t, srv, token)
	ref, err := c.OpenIssue(ctx(t), acme, forge.Issue{Marker: marker, Title: "Drift in web", Body: marker + "\nv1"})
	if err != nil || !ref.Created {
		t.Fatalf("OpenIssue = %+v, %v", ref, err)
	}
	for i := range 104 {
		srv.AddIssue("acme/infra", githubtest.Issue{Title: fmt.Sprint("other ", i), Body: "<!-- driftless:drift:platform/x -->", Labels: []string{"driftless"}})
	}
	ref2, err := c.OpenIssue(ctx(t), acme, forge.Issue{Marker: marker, Title: "Drift in web (still)", Body: marker + "\nv2"})
	if err != nil || ref2.Created || ref2.Number != ref.Number {
		t.Fatalf("second OpenIssue = %+v, %v; want #%d edited", ref2, err, ref.Number)
	}
	var mine []githubtest.Issue
	for _, is := range srv.Issues("acme/infra") {
		if is.Number == ref.Number {
			mine = append(mine, is)
		}
	}
	if len(mine) != 1 || mine[0].Title != "Drift in web (still)" || mine[0].Body != marker+"\nv2" || strings.Join(mine[0].Labels, ",") != "driftless" {
		t.Fatalf("issue = %+v", mine)
	}
	var pages []string
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			pages = append(pages, r.Query.Get("labels")+"/"+r.Query.Get("state")+"/"+r.Query.Get("page"))
		}
	}
	if strings.Join(pages, ",") != "driftless/open/,driftless/open/,driftless/open/2" {
		t.Errorf("issue listings %v", pages)
	}
}

func TestErrorMapping(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	pr := srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "f", Base: "main", Title: "x"})
	call := func(c *Client) error {
		_, err := c.UpsertComment(ctx(t), acme, pr, forge.CommentMarker, forge.CommentMarker)
		return err
	}
	good, logs := newClient(t, srv, token)

	if _, err := good.UpsertComment(ctx(t), forge.Repo{Owner: "acme", Name: "nope"}, 1, "m", "m"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("unknown repo: %v, want ErrNotFound", err)
	}

	const wrong = "ghp_WrongToken9999999999999999999999"
	bad, badLogs := newClient(t, srv, wrong)
	err := call(bad)
	var ae *forge.AuthError
	if !errors.As(err, &ae) || ae.Status != 401 || strings.Contains(err.Error(), wrong) {
		t.Errorf("bad token: %v, want an AuthError 401 without the token", err)
	}
	if _, ok := forge.Retryable(err); ok {
		t.Error("an auth error is retryable")
	}

	srv.SetFault(func(githubtest.Request) *githubtest.Fault {
		return githubtest.Status(http.StatusForbidden, "Resource not accessible by personal access token")
	})
	if err := call(good); !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(err.Error(), "not accessible") {
		t.Errorf("403: %v", err)
	}

	srv.SetFault(func(githubtest.Request) *githubtest.Fault { return githubtest.RateLimited(time.Now().Add(time.Hour)) })
	limited, _ := newClient(t, srv, token)
	err = call(limited)
	var rl *forge.RateLimitError
	if wait, ok := forge.Retryable(err); !errors.As(err, &rl) || rl.Secondary || !ok || wait < 50*time.Minute {
		t.Errorf("rate limit: %v (wait %v), want a retryable RateLimitError until the reset", err, wait)
	}

	srv.SetFault(func(githubtest.Request) *githubtest.Fault { return githubtest.SecondaryRateLimited(time.Minute) })
	abused, _ := newClient(t, srv, token)
	err = call(abused)
	if wait, ok := forge.Retryable(err); !errors.As(err, &rl) || !rl.Secondary || !ok || wait != time.Minute {
		t.Errorf("secondary rate limit: %v (wait %v), want a retryable RateLimitError of 1m", err, wait)
	}

	srv.SetFault(func(githubtest.Request) *githubtest.Fault {
		return githubtest.Status(http.StatusBadGateway, "Server Error")
	})
	var se *forge.ServerError
	if _, ok := forge.Retryable(call(good)); !ok || !errors.As(call(good), &se) {
		t.Errorf("502: not a retryable ServerError")
	}
	srv.SetFault(nil)

	down := githubtest.New(t, token)
	dead, deadLogs := newClient(t, down, token)
	down.Close()
	err = call(dead)
	if _, ok := forge.Retryable(err); !ok || err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("network error: %v, want a retryable error", err)
	}
	for _, l := range []*bytes.Buffer{logs, badLogs, deadLogs} {
		if strings.Contains(l.String(), token) || strings.Contains(l.String(), wrong) {
			t.Errorf("a token reached the logs: %s", l)
		}
	}
}

// EditComment reads the comment once and hands its body to edit: one
// listing and one edit per rewrite; nothing written when edit declines.
func TestEditCommentOneLookup(t *testing.T) {
	srv := githubtest.New(t, token, "acme/infra")
	pr := srv.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "feature", Base: "main", Title: "x"})
	srv.AddComment("acme/infra", pr, forge.CommentMarker+"\nplan")
	c, _ := newClient(t, srv, token)
	var seen string
	if _, err := c.EditComment(ctx(t), acme, pr, forge.CommentMarker, func(old string) (string, bool) {
		seen = old
		return old + "\n- deployed", true
	}); err != nil {
		t.Fatal(err)
	}
	if seen != forge.CommentMarker+"\nplan" {
		t.Errorf("edit got %q", seen)
	}
	if l, e := srv.Count("GET", fmt.Sprintf("/issues/%d/comments", pr)), srv.Count("PATCH", "/comments/"+fmt.Sprint(srv.Comments("acme/infra", pr)[0].ID)); l != 1 || e != 1 {
		t.Errorf("listings %d, edits %d; want 1 and 1", l, e)
	}
	if _, err := c.EditComment(ctx(t), acme, pr, forge.CommentMarker, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("requests = %d, want 3 (a declined edit only lists)", n)
	}
	if cms := srv.Comments("acme/infra", pr); len(cms) != 1 || cms[0].Body != forge.CommentMarker+"\nplan\n- deployed" {
		t.Errorf("comments = %+v", cms)
	}
}
