package driftpr

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/driftless/driftless/forge/github"
	"github.com/driftless/driftless/forge/github/githubtest"
	"github.com/driftless/driftless/internal/redact"
)

// The drift pull request through the real GitHub client, against a server
// that checks every request as GitHub's REST API documents it: one pull
// request from driftless/drift/web into main, found again and edited (not
// opened twice) when the drift changes; the token in no body.
func TestProposeECSOnGitHub(t *testing.T) {
	f := newFixture(t)
	const token = "ghp_drift-pr-token"
	gh := githubtest.New(t, token, "acme/platform")
	client, err := github.New(github.Options{Token: token, APIURL: gh.APIURL(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	red := redact.New(secretToken, token)
	p := New(Options{Loader: f.loader, Forge: client, Scrub: red.String, Log: slog.New(slog.DiscardHandler)})

	svc, err := f.ecs.DescribeServices(f.ctx, &ecs.DescribeServicesInput{Cluster: aws.String("main"), Services: []string{"web"}})
	if err != nil || len(svc.Services) != 1 {
		t.Fatalf("describe: %v", err)
	}
	deployed := svc.Services[0].TaskDefinition
	f.byHandECS(3, "nginx:1.98")
	d := f.drift("web")
	res, err := p.Propose(f.ctx, f.repo, d)
	if err != nil || res.Action != OpenedPullRequest || !res.Ref.Created {
		t.Fatalf("proposal = %+v, %v", res, err)
	}
	prs := gh.PullRequests("acme/platform")
	if len(prs) != 1 || prs[0].Head != "driftless/drift/web" || prs[0].Base != "main" || prs[0].State != "open" ||
		!strings.Contains(prs[0].Body, Marker("platform", "web", d.Fingerprint)) || !strings.Contains(prs[0].Body, "`\"nginx:1.98\"`") {
		t.Fatalf("pull requests on GitHub = %+v", prs)
	}
	if res.Ref.Number != prs[0].Number || !strings.HasSuffix(res.Ref.URL, "/acme/platform/pull/1") {
		t.Errorf("ref = %+v, want #%d", res.Ref, prs[0].Number)
	}

	if _, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"),
		TaskDefinition: deployed, DesiredCount: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	d2 := f.drift("web")
	res, err = p.Propose(f.ctx, f.repo, d2)
	if err != nil || res.Action != OpenedPullRequest || res.Ref.Created {
		t.Fatalf("second proposal = %+v, %v", res, err)
	}
	prs = gh.PullRequests("acme/platform")
	if len(prs) != 1 || !strings.Contains(prs[0].Body, Marker("platform", "web", d2.Fingerprint)) || !strings.Contains(prs[0].Body, "`9`") {
		t.Fatalf("after the drift changed, pull requests = %+v", prs)
	}

	// The same attribute moves again, to another value: the fingerprint
	// (what moved) is the same, the proposal is not.
	if _, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"),
		DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	d3 := f.drift("web")
	if d3.Fingerprint != d2.Fingerprint {
		t.Fatalf("fingerprint moved with the value: %s → %s", d2.Fingerprint, d3.Fingerprint)
	}
	res, err = p.Propose(f.ctx, f.repo, d3)
	if err != nil || res.Action != OpenedPullRequest || !res.Pushed {
		t.Fatalf("proposal of new values = %+v, %v", res, err)
	}
	prs = gh.PullRequests("acme/platform")
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "| `1` | `4` |") {
		t.Fatalf("after the value changed, pull requests = %+v", prs)
	}
	if again, err := p.Propose(f.ctx, f.repo, d3); err != nil || again.Action != Unchanged {
		t.Errorf("the same values again = %+v, %v", again, err)
	}
	if n := gh.Count("POST", "/pulls"); n != 1 {
		t.Errorf("pull requests created = %d, want 1", n)
	}
	if n := gh.Count("PATCH", "/pulls/1"); n != 2 {
		t.Errorf("pull request edits = %d, want 2", n)
	}
	for _, r := range gh.Requests() {
		b, _ := json.Marshal(r.Body)
		if strings.Contains(string(b), token) || strings.Contains(string(b), "hunter") {
			t.Errorf("%s %s sends a secret: %s", r.Method, r.Path, b)
		}
	}
}
