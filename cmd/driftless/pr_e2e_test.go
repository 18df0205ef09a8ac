package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/forge/github/githubtest"
	"github.com/driftless/driftless/internal/testenv"
)

// The whole pull-request story on a real daemon, Git over smart HTTP,
// Terraform and a GitHub that checks every request as its REST API
// documents it: a pull_request webhook (GitHub's own published example,
// pointed at this repo) gets a plan preview — one comment, a
// driftless/plan status, nothing applied; the merge deploys the one app
// the preview showed, as a GitHub deployment, and the same comment gains
// a deployment line below the plan.
func TestE2EPullRequestPreviewThenDeploy(t *testing.T) {
	testenv.Short(t)
	const ghToken, hookSecret = "ghp_PreviewE2EToken0123456789abcdefXYZ", "whsec-preview-e2e"
	gh := githubtest.New(t, ghToken, "acme/infra")
	pr := gh.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "app-v2", Base: "main", Title: "app v2", State: "open"})

	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", stacksHCL)
	g.Write("infra/network/main.tf", networkTF)
	g.Write("infra/app/main.tf", appTFv1)
	rev := g.Commit("the platform")
	root := t.TempDir()
	bare := filepath.Join(root, "acme", "infra.git")
	if err := os.MkdirAll(filepath.Dir(bare), 0o755); err != nil {
		t.Fatal(err)
	}
	gitIn(t, "", "clone", "-q", "--bare", g.Dir, bare)
	repoURL := testenv.StartGitHTTP(t, root).URL + "/acme/infra.git"

	dir := t.TempDir()
	cfg := daemonConfig(t, filepath.Join(dir, "state"), repoURL, fmt.Sprintf("\ngithub {\n  token   = env(\"GITHUB_TOKEN\")\n  api_url = %q\n}\n", gh.APIURL()))
	cfg = replaceOnce(t, cfg, `drift_interval = "0"`, `drift_interval = "0"
  webhook_secret = env("HOOK_SECRET")
  pull_requests {
    enabled = true
  }`)
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", cfg), map[string]string{
		"DRIFTLESS_API_TOKEN": testToken, "GITHUB_TOKEN": ghToken, "HOOK_SECRET": hookSecret})
	h.waitSynced(rev, "platform/network", "platform/app")

	// The pull request: app v2 on a branch, published as refs/pull/N/head.
	g.Git("checkout", "-q", "-b", "app-v2")
	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v2", 1))
	head := g.Commit("app v2")
	g.Git("push", "-q", bare, "app-v2")
	gitIn(t, bare, "update-ref", fmt.Sprintf("refs/pull/%d/head", pr), head)

	code, body := h.githubPullRequest(pullRequestPayload(t, pr, repoURL, head, rev), hookSecret)
	if code != http.StatusAccepted || !strings.Contains(body, `"preview"`) {
		t.Fatalf("pull_request webhook = %d %s", code, body)
	}
	h.waitFor(60*time.Second, "the preview comment and a successful driftless/plan status", func() bool {
		return planStatus(gh, head) == forge.StatusSuccess && len(gh.Comments("acme/infra", pr)) == 1
	})
	comment := gh.Comments("acme/infra", pr)[0].Body
	for _, want := range []string{forge.CommentMarker, "`app`", "terraform_data.app", "Unchanged (1): `network`", "<details>",
		"# terraform_data.app will be updated in-place", `~ input  = "net-1/v1" -> "net-1/v2"`} {
		if !strings.Contains(comment, want) {
			t.Errorf("preview comment lacks %q:\n%s", want, comment)
		}
	}
	if apps := h.apps(); apps["platform/app"].AppliedRevision != rev {
		t.Fatalf("the preview applied something: app at %s", apps["platform/app"].AppliedRevision)
	}

	// The merge deploys what the preview showed, and says so on GitHub.
	g.Git("checkout", "-q", "main")
	g.Git("merge", "-q", "--no-ff", "-m", fmt.Sprintf("Merge pull request #%d from acme/app-v2", pr), "app-v2")
	merged := strings.TrimSpace(g.Git("rev-parse", "HEAD"))
	g.Git("push", "-q", bare, "main")
	h.waitSynced(merged, "platform/app")
	h.waitFor(30*time.Second, "a successful deployment of the merge and its line in the comment", func() bool {
		cms := gh.Comments("acme/infra", pr)
		return deployedState(gh, merged, "platform/app") == forge.DeploySuccess && len(cms) == 1 &&
			strings.Contains(cms[0].Body, "deployed "+merged[:7])
	})
	final := gh.Comments("acme/infra", pr)[0].Body
	if !strings.Contains(final, "terraform_data.app") || !strings.Contains(final, "### Deployments") || strings.Contains(final, "`network` (") {
		t.Errorf("comment after the merge (the plan kept, one deployment line for app):\n%s", final)
	}
	if deployedState(gh, merged, "platform/network") != "" {
		t.Errorf("network, unchanged by the merge, was deployed at %s", merged[:7])
	}
	h.stop()
	if strings.Contains(h.logs.String(), ghToken) || strings.Contains(h.logs.String(), hookSecret) {
		t.Error("a secret is in the daemon's log")
	}
}

// gitIn runs git in dir (the test's directory when empty).
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	if dir != "" {
		args = append([]string{"--git-dir", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = testenv.GitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// pullRequestPayload is GitHub's published "opened" example with its
// number, branches, SHAs and repository URLs made this test's.
func pullRequestPayload(t *testing.T, number int, repoURL, head, base string) []byte {
	t.Helper()
	return forgeFixture(t, "github/pull_request/opened.payload.json", func(p map[string]any) {
		p["number"] = number
		prObj := p["pull_request"].(map[string]any)
		prObj["number"] = number
		for side, v := range map[string][2]string{"head": {"app-v2", head}, "base": {"main", base}} {
			b := prObj[side].(map[string]any)
			b["ref"], b["sha"] = v[0], v[1]
			repo := b["repo"].(map[string]any)
			repo["clone_url"], repo["html_url"], repo["git_url"], repo["ssh_url"] = repoURL, strings.TrimSuffix(repoURL, ".git"), repoURL, repoURL
			repo["full_name"] = "acme/infra"
		}
	})
}

// githubPullRequest posts a signed pull_request delivery.
func (h *e2e) githubPullRequest(body []byte, secret string) (int, string) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return h.postHook("/hooks/github", body, map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
		"X-GitHub-Delivery": "e2e-pr-delivery", "X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))})
}

// planStatus is the last driftless/plan status of sha.
func planStatus(gh *githubtest.Server, sha string) string {
	st := ""
	for _, s := range gh.CommitStatuses("acme/infra") {
		if s.SHA == sha && s.Context == "driftless/plan" {
			st = s.State
		}
	}
	return st
}

// deployedState is the last status of the deployment of sha to env.
func deployedState(gh *githubtest.Server, sha, env string) string {
	for _, d := range gh.Deployments("acme/infra") {
		if d.Ref == sha && d.Environment == env && len(d.Statuses) > 0 {
			return d.Statuses[len(d.Statuses)-1].State
		}
	}
	return ""
}
