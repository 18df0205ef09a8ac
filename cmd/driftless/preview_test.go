package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/preview"
)

// `driftless plan --ref` previews a pull request head, a branch or a SHA
// against the tracked branch, as the pull request comment would: the same
// markdown, the structured result, plan's exit codes.
func TestCLIPlanRef(t *testing.T) {
	testenv.Short(t)
	g, _ := newStacksRepo(t)
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""))

	g.Git("checkout", "-q", "-b", "feature")
	g.Write("infra/network/main.tf", strings.Replace(networkTF, "net-1", "net-2", 1))
	head := g.Commit("network 2")
	g.Git("checkout", "-q", "main")
	g.Git("update-ref", "refs/pull/1/head", head)

	code, out, errOut := runCLI(t, "plan", "-c", cfgPath, "--ref", "refs/pull/1/head", "-o", "markdown")
	if code != exitChanges || !strings.HasPrefix(out, forge.CommentMarker+"\n") {
		t.Fatalf("plan --ref -o markdown = %d\n%s\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{"at `" + head[:7] + "`", "#### `network` (stack) · 1 to add, 0 to change, 0 to destroy",
		"| create | `terraform_data.net` |", "<details><summary>Plan</summary>", "#### `app` (stack) · planned after `network` is applied",
		"| `vars.x` | (known after apply) |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}

	// The branch and the SHA name the same head: the same result.
	for _, ref := range []string{"feature", head} {
		code, out, errOut = runCLI(t, "plan", "-c", cfgPath, "--ref", ref, "-o", "json")
		var res preview.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitChanges {
			t.Fatalf("plan --ref %s -o json = %d %v\n%s\nstderr %s", ref, code, err, out, errOut)
		}
		if res.Revision != head || len(res.Apps) != 2 || res.Apps[0].App != "network" || !res.Apps[0].Changed ||
			res.Apps[1].App != "app" || len(res.Apps[1].Unknown) != 1 || len(res.Unchanged) != 0 {
			t.Errorf("plan --ref %s -o json: %+v", ref, res)
		}
	}

	// The tracked branch against itself: nothing to deploy, exit 0.
	if code, out, errOut := runCLI(t, "plan", "-c", cfgPath, "--ref", "main"); code != exitOK || !strings.Contains(out, "platform/network: unchanged") {
		t.Errorf("plan --ref main = %d\n%s\nstderr %s", code, out, errOut)
	}

	// Invalid manifests: exit 1, the diagnostics in the markdown.
	g.Git("checkout", "-q", "-b", "broken")
	g.Write("deploy/stacks.hcl", stacksHCL+"\nstack \"bad\" {\n  pat = \"x\"\n}\n")
	bad := g.Commit("broken")
	g.Git("checkout", "-q", "main")
	code, out, _ = runCLI(t, "plan", "-c", cfgPath, "--ref", bad, "-o", "markdown")
	if code != exitError || !regexp.MustCompile(`deploy/stacks\.hcl:1[0-9]:[0-9]+: `).MatchString(out) {
		t.Errorf("plan --ref of invalid manifests = %d\n%s", code, out)
	}

	// Usage errors.
	if code, _, errOut := runCLI(t, "plan", "-c", cfgPath, "-o", "markdown"); code != exitUsage || !strings.Contains(errOut, "--ref") {
		t.Errorf("-o markdown without --ref = %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "plan", "-c", cfgPath, "--ref", "refs/tags/v1"); code != exitError || !strings.Contains(errOut, "not a branch") {
		t.Errorf("--ref of a tag = %d %q", code, errOut)
	}
}
