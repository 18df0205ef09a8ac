package main

import (
	"fmt"
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

// TestE2EDeploymentsOnGitHub runs a daemon with a github block on a repo
// served from the fake GitHub's host: the merge commit of pull request #1
// deploys both stacks, and GitHub gets one deployment per stack (in
// progress, then success, linking the status page) and the pull request a
// comment with a line per stack. The token appears in no log line.
func TestE2EDeploymentsOnGitHub(t *testing.T) {
	testenv.Short(t)
	const ghToken = "ghp_E2ESecretToken0123456789abcdefXYZ"
	gh := githubtest.New(t, ghToken, "acme/infra")
	pr := gh.AddPullRequest("acme/infra", githubtest.PullRequest{Head: "greeting-v2", Base: "main", Title: "v2", State: "closed"})

	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", stacksHCL)
	g.Write("infra/network/main.tf", networkTF)
	g.Write("infra/app/main.tf", appTFv1)
	rev := g.Commit(fmt.Sprintf("Merge pull request #%d from acme/greeting-v2\n\nThe platform", pr))
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "clone", "-q", "--bare", g.Dir, filepath.Join(root, "acme", "infra.git")).CombinedOutput(); err != nil {
		t.Fatalf("git clone --bare: %v\n%s", err, out)
	}
	// The Git server and the fake GitHub are both on 127.0.0.1: the repo
	// is on the configured forge.
	repoURL := testenv.StartGitHTTP(t, root).URL + "/acme/infra.git"

	dir := t.TempDir()
	extra := fmt.Sprintf(`
external_url = "https://driftless.example.com"

github {
  token   = env("GITHUB_TOKEN")
  api_url = %q
}
`, gh.APIURL())
	cfgPath := writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), repoURL, extra))
	h := startE2E(t, cfgPath, map[string]string{"DRIFTLESS_API_TOKEN": testToken, "GITHUB_TOKEN": ghToken})
	h.waitSynced(rev, "platform/network", "platform/app")

	h.waitFor(30*time.Second, "two successful deployments and two comment lines", func() bool {
		deps := gh.Deployments("acme/infra")
		if len(deps) != 2 {
			return false
		}
		for _, d := range deps {
			if len(d.Statuses) == 0 || d.Statuses[len(d.Statuses)-1].State != "success" {
				return false
			}
		}
		cms := gh.Comments("acme/infra", pr)
		return len(cms) == 1 && strings.Count(cms[0].Body, "deployed "+rev[:7]) == 2
	})
	for _, d := range gh.Deployments("acme/infra") {
		app := strings.TrimPrefix(d.Environment, "platform/")
		if d.Ref != rev || (app != "network" && app != "app") || len(d.Statuses) != 2 || d.Statuses[0].State != "in_progress" ||
			d.Statuses[1].EnvironmentURL != "https://driftless.example.com/apps/platform/"+app {
			t.Errorf("deployment = %+v", d)
		}
	}
	body := gh.Comments("acme/infra", pr)[0].Body
	if !strings.HasPrefix(body, forge.CommentMarker) || !strings.Contains(body, "### Deployments\n- ✅ [`network`]") {
		t.Errorf("comment:\n%s", body)
	}
	h.stop()
	if strings.Contains(h.logs.String(), ghToken) {
		t.Error("the GitHub token is in the daemon's log")
	}
}
