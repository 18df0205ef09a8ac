package preview

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/forge"
)

const stacksHCL = `stack "a" {
  path = "infra/a"
}

stack "b" {
  path = "infra/b"
  vars = {
    a_id = stack.a.outputs.id
  }
}
`

func tfA(name string) string {
	return `variable "name" {
  type    = string
  default = "` + name + `"
}

resource "terraform_data" "x" {
  input = var.name
}

output "id" {
  value = terraform_data.x.output
}
`
}

func tfB(label string) string {
	return `variable "a_id" {
  type = string
}

resource "terraform_data" "y" {
  input = "${var.a_id}-` + label + `"
}
`
}

func twoStacks() map[string]string {
	return map[string]string{"deploy/stacks.hcl": stacksHCL, "infra/a/main.tf": tfA("one"), "infra/b/main.tf": tfB("b1")}
}

// A pull request changing both A and B: A is planned, B (which references
// A's output) is planned after A is applied, its input known after apply.
// The comment, the statuses and the event say so; nothing is applied and
// no work dir is left behind.
func TestPreviewChangedDependency(t *testing.T) {
	h := newHarness(t, twoStacks(), harnessOpts{})
	h.deploy()
	sha := h.push(1, map[string]string{"infra/a/main.tf": tfA("two"), "infra/b/main.tf": tfB("b2")})
	st := h.open(1, "opened", sha, false)
	if st.State != forge.StatusSuccess || st.Context != StatusContext {
		t.Fatalf("final status %+v, want success on %s", st, StatusContext)
	}
	if got := h.forge.states(sha); got[0] != forge.StatusPending {
		t.Errorf("statuses %v: want pending first", got)
	}
	body := h.forge.comment(t, 1)
	mustContain(t, body, forge.CommentMarker, "`a` (stack) · 0 to add, 1 to change, 0 to destroy", "| update | `terraform_data.x` |",
		"<details><summary>Plan</summary>", `~ input  = "one" -> "two"`,
		"`b` (stack) · planned after `a` is applied", "| `vars.a_id` | (known after apply) |", sha[:7])
	if strings.Contains(body, "Unchanged") {
		t.Errorf("no app is unchanged:\n%s", body)
	}
	ev := lastEvent(t, h.events)
	if !strings.HasSuffix(ev.Type, "preview.ready") || ev.Data.PR != 1 || ev.Data.Revision != sha || ev.Data.Extra["changed_apps"] != "a,b" {
		t.Errorf("event %s %+v", ev.Type, ev.Data)
	}
	// Nothing applied: a deploy of the base plans no changes.
	h.deploy()
	if h.applied["a"]["id"].Value == nil || string(h.applied["a"]["id"].Value) != `"one"` {
		t.Errorf("a's output is %s after the preview, want \"one\"", h.applied["a"]["id"].Value)
	}
	var left []string
	_ = filepath.WalkDir(filepath.Join(h.stateDir, "previews"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("preview work dirs left behind: %v", left)
	}
}

// A pull request changing B alone: B is planned with A's current output
// (read without a lock), A is listed unchanged.
func TestPreviewUnchangedDependencyOutputs(t *testing.T) {
	h := newHarness(t, twoStacks(), harnessOpts{})
	h.deploy()
	sha := h.push(2, map[string]string{"infra/b/main.tf": tfB("b2")})
	if st := h.open(2, "opened", sha, false); st.State != forge.StatusSuccess {
		t.Fatalf("status %+v\n%s", st, h.forge.comment(t, 2))
	}
	body := h.forge.comment(t, 2)
	mustContain(t, body, "`b` (stack) · 0 to add, 1 to change, 0 to destroy", `"one-b1" -> "one-b2"`, "Unchanged (1): `a`")
	if strings.Contains(body, "#### `a`") {
		t.Errorf("a is planned though unchanged:\n%s", body)
	}
}

// An invalid manifest fails the preview with file:line:col diagnostics.
func TestPreviewInvalidManifest(t *testing.T) {
	h := newHarness(t, twoStacks(), harnessOpts{})
	sha := h.push(3, map[string]string{"deploy/stacks.hcl": stacksHCL + "\nstack \"c\" {\n  path = 42\n  nope = true\n}\n"})
	st := h.open(3, "opened", sha, false)
	if st.State != forge.StatusFailure || st.Description != "the manifests are invalid" {
		t.Fatalf("status %+v", st)
	}
	body := h.forge.comment(t, 3)
	if !regexp.MustCompile(`deploy/stacks\.hcl:1[0-9]:[0-9]+: `).MatchString(body) {
		t.Errorf("no file:line:col diagnostic in:\n%s", body)
	}
	ev := lastEvent(t, h.events)
	if !strings.HasSuffix(ev.Type, "preview.failed") || len(ev.Data.Diagnostics) == 0 {
		t.Errorf("event %s %+v", ev.Type, ev.Data)
	}
}

// A pull request from a fork is not planned unless allow_forks is set.
func TestPreviewForkRefused(t *testing.T) {
	h := newHarness(t, twoStacks(), harnessOpts{})
	sha := h.push(4, map[string]string{"infra/a/main.tf": tfA("evil")})
	st := h.open(4, "opened", sha, true)
	if st.State != forge.StatusError || !strings.Contains(st.Description, "forks") {
		t.Fatalf("status %+v", st)
	}
	mustContain(t, h.forge.comment(t, 4), "**Not planned.**", "allow_forks")
	if _, err := h.src.Revision(t.Context(), sha); err == nil {
		t.Error("the fork's head was fetched")
	}
	if got := h.events.types(); len(got) != 0 {
		t.Errorf("events %v for a refused fork", got)
	}

	h2 := newHarness(t, twoStacks(), harnessOpts{allowForks: true})
	sha = h2.push(4, map[string]string{"infra/a/main.tf": tfA("ok")})
	if st := h2.open(4, "opened", sha, true); st.State != forge.StatusSuccess {
		t.Fatalf("allow_forks: status %+v", st)
	}
}

// Secrets never reach the comment: a sensitive output of an unchanged
// stack that another stack's plan shows in clear (its variable is not
// sensitive there), and a secret of the controller's config and a
// terraform.env value found in the code.
func TestPreviewSecretMasked(t *testing.T) {
	const outSecret, cfgSecret, envSecret = "out-Zq8xK3-very-secret", "cfg-Pw7mN2-also-secret", "env-Hy4rT6-terraform-env"
	files := map[string]string{
		"deploy/stacks.hcl": "stack \"a\" {\n  path = \"infra/a\"\n}\n\nstack \"b\" {\n  path = \"infra/b\"\n  vars = {\n    t = stack.a.outputs.token\n  }\n}\n",
		"infra/a/main.tf":   "output \"token\" {\n  value     = \"" + outSecret + "\"\n  sensitive = true\n}\n",
		"infra/b/main.tf":   "variable \"t\" {\n  type = string\n}\n\nresource \"terraform_data\" \"t\" {\n  input = \"v1:${var.t}\"\n}\n",
	}
	h := newHarness(t, files, harnessOpts{env: map[string]string{"VAULT_TOKEN": envSecret}})
	h.red.Add(cfgSecret) // as the daemon adds its config's secrets
	h.deploy()
	sha := h.push(5, map[string]string{"infra/b/main.tf": strings.Replace(files["infra/b/main.tf"], "v1:", "v2:"+cfgSecret+":"+envSecret+":", 1)})
	if st := h.open(5, "opened", sha, false); st.State != forge.StatusSuccess {
		t.Fatalf("status %+v\n%s", st, h.forge.comment(t, 5))
	}
	body := h.forge.comment(t, 5)
	mustContain(t, body, "terraform_data.t", `"v1:`, `"v2:`)
	for _, s := range []string{outSecret, "Zq8xK3", cfgSecret, "Pw7mN2", envSecret, "Hy4rT6"} {
		if strings.Contains(body, s) {
			t.Fatalf("secret %q is in the comment:\n%s", s, body)
		}
	}
	for _, ev := range h.events.list() {
		if strings.Contains(ev.Data.Summary+ev.Data.Error, outSecret) {
			t.Errorf("the secret is in event %s", ev.Type)
		}
	}
}

// A preview runs while a deploy of the same stack holds its state lock and
// its work dir: it takes neither and succeeds.
func TestPreviewWhileDeployHoldsStateLock(t *testing.T) {
	keep := func(v string) string {
		return "resource \"terraform_data\" \"keep\" {\n  input = \"" + v + "\"\n}\n"
	}
	const slow = "resource \"terraform_data\" \"slow\" {\n  provisioner \"local-exec\" {\n    command = \"sleep 6\"\n  }\n}\n"
	files := map[string]string{"deploy/stacks.hcl": "stack \"s\" {\n  path = \"infra/s\"\n}\n", "infra/s/main.tf": keep("k1")}
	h := newHarness(t, files, harnessOpts{})
	h.deploy()
	h.g.Write("infra/s/slow.tf", slow)
	h.g.Commit("deploy 2")
	done := make(chan struct{})
	go func() { defer close(done); h.deploy() }()
	lockInfo := filepath.Join(h.stateDir, "terraform", "infra", "s", "src", "infra", "s", ".terraform.tfstate.lock.info")
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(lockInfo); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deploy never took the state lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sha := h.push(6, map[string]string{"infra/s/main.tf": keep("k2")})
	st := h.open(6, "opened", sha, false)
	if _, err := os.Stat(lockInfo); err != nil {
		t.Error("the deploy finished before the preview: the test proves nothing")
	}
	if st.State != forge.StatusSuccess {
		t.Fatalf("status %+v\n%s", st, h.forge.comment(t, 6))
	}
	mustContain(t, h.forge.comment(t, 6), "| update | `terraform_data.keep` |", `~ input  = "k1" -> "k2"`)
	<-done
}

// A second push edits the one comment in place (keeping the deployments
// section written after a merge), and a closed pull request is not planned.
func TestPreviewCommentEditedOnPush(t *testing.T) {
	h := newHarness(t, twoStacks(), harnessOpts{})
	h.deploy()
	sha1 := h.push(7, map[string]string{"infra/b/main.tf": tfB("b2")})
	h.open(7, "opened", sha1, false)
	first := h.forge.comment(t, 7)
	// What the deployment reporter appends.
	h.forge.mu.Lock()
	h.forge.comments[7][0].body = first + "\n" + "### Deployments\n\n- `b` deployed\n"
	h.forge.mu.Unlock()
	sha2 := h.push(7, map[string]string{"infra/b/main.tf": tfB("b3")})
	h.open(7, "synchronize", sha2, false)
	body := h.forge.comment(t, 7)
	mustContain(t, body, sha2[:7], `"one-b1" -> "one-b3"`, "### Deployments\n\n- `b` deployed")
	if strings.Contains(body, sha1[:7]) {
		t.Errorf("the comment still shows the first head:\n%s", body)
	}
	if n := h.forge.upsertCount(); n != 2 {
		t.Errorf("%d upserts, want 2", n)
	}
}

// A pull request whose branch is behind the tracked branch: the apps it
// changes are counted from where it branched, so a change that landed on
// the branch since is not taken for the pull request's.
func TestPreviewBranchBehind(t *testing.T) {
	h := newHarness(t, twoStacks(), harnessOpts{})
	h.deploy()
	sha := h.push(8, map[string]string{"infra/b/main.tf": tfB("b2")})
	mb := h.g.Git("rev-parse", "main")
	h.g.Write("infra/a/main.tf", tfA("one")+"\n# a comment landed on main\n")
	h.g.Commit("main moves on")
	h.deploy()
	if st := h.open(8, "opened", sha, false); st.State != forge.StatusSuccess {
		t.Fatalf("status %+v\n%s", st, h.forge.comment(t, 8))
	}
	body := h.forge.comment(t, 8)
	mustContain(t, body, "#### `b` (stack)", "Unchanged (1): `a`", "left it at `"+mb[:7]+"`")
	if strings.Contains(body, "#### `a`") {
		t.Errorf("a, changed on main only, is previewed:\n%s", body)
	}
}
