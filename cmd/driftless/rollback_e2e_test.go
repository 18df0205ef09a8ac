package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// End-to-end tests of issue 5: rollback (pin and revert), approvals bound
// to the content they were planned from, and GitHub webhooks, through the
// daemon's real HTTP API and the CLI run in-process.

// app reads GET /api/v1/apps/{repo}/{app}.
func (h *e2e) app(name string) state.AppState {
	h.t.Helper()
	code, b := h.get("/api/v1/apps/" + name)
	if code != http.StatusOK {
		h.t.Fatalf("GET /api/v1/apps/%s: %d %s", name, code, b)
	}
	var st state.AppState
	if err := json.Unmarshal(b, &st); err != nil {
		h.t.Fatalf("GET /api/v1/apps/%s: %v\n%s", name, err, b)
	}
	return st
}

// act POSTs an action on REPO/APP with token and a JSON body.
func (h *e2e) act(name, action, token, body string) (int, string) {
	h.t.Helper()
	code, b := h.do(http.MethodPost, "/api/v1/apps/"+name+"/"+action, token, strings.NewReader(body))
	return code, string(b)
}

// waitEvent waits for an event of typ for subject at revision rev ("" for
// any) and returns it.
func (h *e2e) waitEvent(timeout time.Duration, typ, subject, rev string) notify.Event {
	h.t.Helper()
	var ev notify.Event
	h.waitFor(timeout, fmt.Sprintf("%s of %s at %.7s", typ, subject, rev), func() bool {
		evs := h.events()
		if i := indexOf(evs, typ, subject, rev); i >= 0 {
			ev = evs[i]
			return true
		}
		return false
	})
	return ev
}

// sinceID returns the events after the one with id.
func sinceID(evs []notify.Event, id string) []notify.Event {
	for i, ev := range evs {
		if ev.ID == id {
			return evs[i+1:]
		}
	}
	return nil
}

// logRevisions returns the "revision" attributes of the JSON log lines of
// deploy deployID.
func logRevisions(logs, deployID string) map[string]bool {
	revs := map[string]bool{}
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, deployID) {
			continue
		}
		var rec struct {
			DeployID string `json:"deploy_id"`
			Revision string `json:"revision"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.DeployID == deployID && rec.Revision != "" {
			revs[rec.Revision] = true
		}
	}
	return revs
}

// TestE2ERollbackPinOnMoto: deploy v1 and v2 of an SSM parameter stack
// (S3 state, DynamoDB lock, on moto), `driftless rollback --previous`
// brings v1 back live and pins the app; 20 s of 1 s polls later v2 has not
// come back; a new commit v3 ends the pin and is applied.
func TestE2ERollbackPinOnMoto(t *testing.T) {
	testenv.Short(t)
	moto := testenv.Moto(t)
	mirror := testenv.ProviderMirror(t)
	moto.CreateStateBackend(t, "e2e-rb-state", "e2e-rb-locks")
	start := time.Now()
	defer func() { t.Logf("runtime %s", time.Since(start).Round(time.Second)) }()

	const param = "/e2e/rollback"
	stackTF := replaceOnce(t, awsStackTF, `"/e2e/greeting"`, fmt.Sprintf("%q", param))
	manifest := func(v string) string {
		m := fmt.Sprintf(awsManifest, v)
		m = replaceOnce(t, m, `"e2e-tf-state"`, `"e2e-rb-state"`)
		return replaceOnce(t, m, `"e2e-tf-locks"`, `"e2e-rb-locks"`)
	}
	g := testenv.NewGitRepo(t)
	g.Write("infra/params/main.tf", stackTF)
	g.Write("deploy/params.hcl", manifest("v1"))
	rev1 := g.Commit("params: v1")

	dir := t.TempDir()
	cfgText := daemonConfig(t, filepath.Join(dir, "state"), g.URL(), fmt.Sprintf(`
aws {
  region   = "us-east-1"
  endpoint = %q
}
`, moto.Endpoint))
	cfgText = replaceOnce(t, cfgText, "terraform {\n", fmt.Sprintf(`terraform {
  plugin_mirror = %q
  env = {
    AWS_ACCESS_KEY_ID     = "test"
    AWS_SECRET_ACCESS_KEY = "test"
  }
`, mirror))
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", cfgText), map[string]string{"DRIFTLESS_API_TOKEN": testToken})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ssmc := ssm.NewFromConfig(moto.AWSConfig(t))
	live := func() string {
		t.Helper()
		out, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
		if err != nil {
			t.Fatalf("reading %s from moto: %v", param, err)
		}
		return aws.ToString(out.Parameter.Value)
	}
	const app = "platform/params"

	h.waitSyncedWithin(5*time.Minute, rev1, app)
	if v := live(); v != "v1" {
		t.Fatalf("parameter = %q after the first deploy, want v1", v)
	}
	g.Write("deploy/params.hcl", manifest("v2"))
	rev2 := g.Commit("params: v2")
	h.waitSyncedWithin(5*time.Minute, rev2, app)
	h.waitEvent(30*time.Second, "deploy.succeeded", app, rev2)
	if v := live(); v != "v2" {
		t.Fatalf("parameter = %q after the second deploy, want v2", v)
	}

	// The CLI, in-process, with the token from the environment.
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)
	t.Setenv("USER", "alice")
	code, out, errOut := runCLI(t, "rollback", app, "--previous", "--server", h.base)
	if code != exitOK || !strings.Contains(out, app+": rollback accepted (status pinned)") {
		t.Fatalf("rollback --previous = %d, stdout %q, stderr %q", code, out, errOut)
	}
	var st state.AppState
	h.waitFor(5*time.Minute, "the rollback to v1 applied and pinned", func() bool {
		st = h.app(app)
		return st.AppliedRevision == rev1 && st.Status == state.StatusPinned
	})
	// The state is saved before the event is published: wait for it too.
	h.waitEvent(30*time.Second, "rollback.succeeded", app, rev1)
	if st.PinnedRevision != rev1 || st.PinnedBy != "cli:alice" || st.DesiredRevision != rev2 || st.LastError != "" {
		t.Errorf("after the rollback: %+v, want pinned to %.7s by cli:alice, desired still %.7s", st, rev1, rev2)
	}
	_, raw := h.get("/api/v1/apps/" + app)
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil || fields["pinned_revision"] != rev1 || fields["status"] != "pinned" {
		t.Errorf("GET /api/v1/apps/%s: want pinned_revision %s and status pinned (%v):\n%s", app, rev1, err, raw)
	}
	if v := live(); v != "v1" {
		t.Errorf("parameter = %q after the rollback, want v1", v)
	}
	evs := h.events()
	startedAt := indexOf(evs, "rollback.started", app, rev1)
	doneAt := indexOf(evs, "rollback.succeeded", app, rev1)
	if startedAt < 0 || doneAt < startedAt {
		t.Fatalf("want rollback.started then rollback.succeeded at %.7s\n%s", rev1, eventList(evs))
	}
	if d := evs[doneAt].Data; d.Reason != state.ReasonRollback || d.PreviousRevision != rev2 ||
		len(d.Changes) != 1 || d.Changes[0].Address != "aws_ssm_parameter.greeting" || d.Changes[0].Action != "update" {
		t.Errorf("rollback.succeeded data = %+v, want reason rollback from %.7s, one update", d, rev2)
	}
	if i := indexOf(evs, "deploy.started", app, rev1); i > startedAt {
		t.Errorf("the rollback was announced as a deploy too\n%s", eventList(evs))
	}
	// The daemon's log names the revision the rollback applied.
	if revs := logRevisions(h.logs.String(), evs[doneAt].Data.DeployID); len(revs) != 1 || !revs[rev1] {
		t.Errorf("log lines of the rollback deploy name revisions %v, want only %.7s", revs, rev1)
	}
	lastID := evs[len(evs)-1].ID

	// 20 s of polls every second: v2 must not come back.
	time.Sleep(20 * time.Second)
	if v := live(); v != "v1" {
		t.Errorf("parameter = %q 20 s after the rollback, want still v1", v)
	}
	if st := h.app(app); st.Status != state.StatusPinned || st.PinnedRevision != rev1 || st.AppliedRevision != rev1 {
		t.Errorf("20 s after the rollback: %+v, want still pinned at %.7s", st, rev1)
	}
	evs = h.events()
	for _, ev := range sinceID(evs, lastID) {
		if ev.Subject == app {
			t.Errorf("while pinned: %s at %.7s", eventType(ev), ev.Data.Revision)
		}
	}
	if n := len(filter(evs, "source.updated", "platform")); n != 2 {
		t.Errorf("%d source.updated, want 2 (v1, v2)", n)
	}

	// A newer commit than the quarantined head: followed again.
	g.Write("deploy/params.hcl", manifest("v3"))
	rev3 := g.Commit("params: v3")
	st = h.waitSyncedWithin(5*time.Minute, rev3, app)[app]
	h.waitEvent(30*time.Second, "deploy.succeeded", app, rev3)
	if st.PinnedRevision != "" || st.PinnedFrom != "" {
		t.Errorf("after v3: %+v, want unpinned", st)
	}
	if v := live(); v != "v3" {
		t.Errorf("parameter = %q after v3, want v3", v)
	}
	evs = h.events()
	if i := indexOf(evs, "deploy.succeeded", app, rev3); i < 0 {
		t.Errorf("no deploy.succeeded at v3\n%s", eventList(evs))
	} else if d := evs[i].Data; d.Reason != state.ReasonCommit || d.PreviousRevision != rev1 {
		t.Errorf("v3's deploy.succeeded = %+v, want reason commit from %.7s", d, rev1)
	}
	for _, typ := range []string{"deploy.failed", "rollback.failed"} {
		if n := len(filter(evs, typ, "")); n != 0 {
			t.Errorf("%d %s\n%s", n, typ, eventList(evs))
		}
	}

	// History: v3, the rollback with its caller, v2, v1.
	code, out, errOut = runCLI(t, "history", app, "--server", h.base)
	rows := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+([0-9a-f]{7})\s+(.+?)\s+(succeeded(?: \(\w+\))?)\s+\S+$`).FindAllStringSubmatch(out, -1)
	if code != exitOK || len(rows) != 4 {
		t.Fatalf("history = %d, %d rows\n%s\nstderr %s", code, len(rows), out, errOut)
	}
	want := [][3]string{
		{rev3[:7], testenv.GitAuthorName, "succeeded"},
		{rev1[:7], "cli:alice (commit by " + testenv.GitAuthorName + ")", "succeeded (rollback)"},
		{rev2[:7], testenv.GitAuthorName, "succeeded"},
		{rev1[:7], testenv.GitAuthorName, "succeeded"},
	}
	for i, w := range want {
		if got := [3]string{rows[i][1], rows[i][2], rows[i][3]}; got != w {
			t.Errorf("history row %d = %q, want %q\n%s", i, got, w, out)
		}
	}
}

// bareRepoOverHTTP makes a bare repository that accepts pushes over smart
// HTTP and a work repository whose origin it is. It returns the work repo,
// the bare repo's directory and its HTTP URL.
func bareRepoOverHTTP(t *testing.T) (*testenv.GitRepo, string, string) {
	t.Helper()
	root := t.TempDir()
	bare := filepath.Join(root, "platform.git")
	for _, args := range [][]string{
		{"init", "-q", "--bare", "-b", "main", bare},
		{"-C", bare, "config", "http.receivepack", "true"},
	} {
		gitCmd(t, args...)
	}
	srv := testenv.StartGitHTTP(t, root)
	g := testenv.NewGitRepo(t)
	g.Git("remote", "add", "origin", bare)
	return g, bare, srv.URL + "/platform.git"
}

// gitCmd runs the git CLI with the test environment; it returns stdout.
func gitCmd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = testenv.GitEnv()
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

const (
	revertManifest = "stack \"app\" {\n  path = \"infra/app\"\n}\n"
	revertTF       = `resource "terraform_data" "app" {
  input = "payload-%s"
}

output "value" {
  value = terraform_data.app.output
}
`
)

// TestE2ERollbackRevert: `driftless rollback --to V1 --revert` pushes a
// revert commit to the tracked branch of a bare repo served over smart
// HTTP; the daemon deploys it as a rollback and v1's state goes live,
// without pinning.
func TestE2ERollbackRevert(t *testing.T) {
	testenv.Short(t)
	start := time.Now()
	defer func() { t.Logf("runtime %s", time.Since(start).Round(100*time.Millisecond)) }()
	g, bare, url := bareRepoOverHTTP(t)
	g.Write("deploy/app.hcl", revertManifest)
	g.Write("infra/app/main.tf", fmt.Sprintf(revertTF, "v1"))
	rev1 := g.Commit("app: v1")
	g.Git("push", "-q", "origin", "main")

	dir := t.TempDir()
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), url, "")),
		map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	const app = "platform/app"
	h.waitSynced(rev1, app)
	g.Write("infra/app/main.tf", fmt.Sprintf(revertTF, "v2"))
	rev2 := g.Commit("app: v2, the bad one")
	g.Git("push", "-q", "origin", "main")
	h.waitSynced(rev2, app)
	h.waitEvent(30*time.Second, "deploy.succeeded", app, rev2)
	if s := readTFState(t, h, "platform", "app", "infra/app"); !strings.Contains(s, `"payload-v2"`) {
		t.Fatalf("v2 is not live:\n%s", s)
	}
	lastID := func() string { evs := h.events(); return evs[len(evs)-1].ID }()

	// Without the token: 401, nothing pushed.
	if code, b := h.act(app, "rollback", "", fmt.Sprintf(`{"to":%q,"revert":true}`, rev1)); code != http.StatusUnauthorized {
		t.Errorf("rollback --revert without a token = %d %s, want 401", code, b)
	}
	if head := gitCmd(t, "-C", bare, "rev-parse", "main"); head != rev2 {
		t.Fatalf("an unauthorised rollback moved main to %s", head)
	}

	t.Setenv("DRIFTLESS_API_TOKEN", testToken)
	t.Setenv("USER", "bob")
	code, out, errOut := runCLI(t, "rollback", app, "--to", rev1[:7], "--revert", "--server", h.base)
	if code != exitOK || !strings.Contains(out, app+": rollback accepted") {
		t.Fatalf("rollback --revert = %d, stdout %q, stderr %q", code, out, errOut)
	}
	revert := gitCmd(t, "-C", bare, "rev-parse", "main")
	if revert == rev2 {
		t.Fatalf("no revert commit on the bare repo's main")
	}
	msg := gitCmd(t, "-C", bare, "log", "-1", "--format=%B", "main")
	if !strings.Contains(msg, "This reverts commit "+rev2+".") || !strings.Contains(msg, "cli:bob") {
		t.Errorf("revert commit message:\n%s\nwant it to revert %s and name cli:bob", msg, rev2)
	}
	if parent := gitCmd(t, "-C", bare, "rev-parse", "main^"); parent != rev2 {
		t.Errorf("the revert commit's parent = %s, want %s (a fast-forward)", parent, rev2)
	}
	if diff := gitCmd(t, "-C", bare, "diff", "--stat", rev1, "main"); diff != "" {
		t.Errorf("the revert commit's tree differs from v1's:\n%s", diff)
	}

	st := h.waitSynced(revert, app)[app]
	h.waitEvent(30*time.Second, "rollback.succeeded", app, revert)
	if st.PinnedRevision != "" || st.Status != state.StatusSynced {
		t.Errorf("after the revert: %+v, want synced, not pinned", st)
	}
	if s := readTFState(t, h, "platform", "app", "infra/app"); !strings.Contains(s, `"payload-v1"`) || strings.Contains(s, `"payload-v2"`) {
		t.Errorf("v1 is not live after the revert:\n%s", s)
	}
	evs := sinceID(h.events(), lastID)
	started := filter(evs, "rollback.started", app)
	done := filter(evs, "rollback.succeeded", app)
	if len(started) != 1 || len(done) != 1 || done[0].Data.Revision != revert || done[0].Data.Reason != state.ReasonRevert ||
		done[0].Data.DeployID != started[0].Data.DeployID || done[0].Data.PreviousRevision != rev2 {
		t.Errorf("want one rollback.started/succeeded of the revert commit, reason revert\n%s", eventList(evs))
	} else if c := done[0].Data.Changes; len(c) != 1 || c[0].Address != "terraform_data.app" {
		t.Errorf("revert changes = %+v", c)
	}
	for _, typ := range []string{"deploy.started", "deploy.succeeded", "deploy.failed", "rollback.failed"} {
		if n := len(filter(evs, typ, "")); n != 0 {
			t.Errorf("%d %s for the revert\n%s", n, typ, eventList(evs))
		}
	}
	if i := indexOf(evs, "source.updated", "platform", revert); i < 0 {
		t.Errorf("no source.updated for the revert commit\n%s", eventList(evs))
	}
	var hist []state.DeployRecord
	if code, b := h.get("/api/v1/apps/" + app + "/history"); code != http.StatusOK || json.Unmarshal(b, &hist) != nil ||
		len(hist) != 3 || hist[0].Revision != revert || hist[0].Reason != state.ReasonRevert || hist[0].Outcome != "succeeded" {
		t.Errorf("history = %d %s", code, b)
	}

	// Reverting to the head's own tree again is refused: nothing to revert.
	if code, b := h.act(app, "rollback", testToken, fmt.Sprintf(`{"to":%q,"revert":true}`, rev1)); code != http.StatusConflict ||
		!strings.Contains(b, "nothing to revert") {
		t.Errorf("a second revert to v1 = %d %s, want 409 nothing to revert", code, b)
	}
	if head := gitCmd(t, "-C", bare, "rev-parse", "main"); head != revert {
		t.Errorf("the refused revert moved main to %s", head)
	}
}

const (
	gatedManifest = `stack "x" {
  path       = "infra/x"
  auto_apply = false
  var_files  = ["infra/x/vars.tfvars"]
}
`
	gatedTF = `variable "value" {
  type = string
}

resource "terraform_data" "x" {
  input = var.value
}
`
)

// gatedRepo is a repo with the gated stack x at vars value v1, committed.
func gatedRepo(t *testing.T) (*testenv.GitRepo, string) {
	t.Helper()
	g := testenv.NewGitRepo(t)
	g.Write("deploy/x.hcl", gatedManifest)
	g.Write("infra/x/main.tf", gatedTF)
	g.Write("infra/x/vars.tfvars", "value = \"gated-v1\"\n")
	return g, g.Commit("x: v1")
}

// TestE2EApprovalFollowsNewestRevision: a gated stack awaits approval at
// v1; a vars-only commit is planned again by the daemon, with a new plan;
// approving applies the newest revision's plan, never v1's.
func TestE2EApprovalFollowsNewestRevision(t *testing.T) {
	testenv.Short(t)
	start := time.Now()
	defer func() { t.Logf("runtime %s", time.Since(start).Round(100*time.Millisecond)) }()
	g, rev1 := gatedRepo(t)
	dir := t.TempDir()
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), "")),
		map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	const app = "platform/x"

	p1 := h.waitEvent(90*time.Second, "plan.awaiting_approval", app, rev1).Data.PlanID
	if st := h.app(app); st.Status != state.StatusAwaitingApproval || st.LastPlan == nil || st.LastPlan.ID != p1 {
		t.Fatalf("x = %+v, want awaiting approval of plan %s", st, p1)
	}

	g.Write("infra/x/vars.tfvars", "value = \"gated-v2\"\n")
	rev2 := g.Commit("x: v2 (vars only)")
	ev2 := h.waitEvent(60*time.Second, "plan.awaiting_approval", app, rev2)
	p2 := ev2.Data.PlanID
	if p2 == "" || p2 == p1 {
		t.Errorf("the vars-only commit's plan id = %q, want a new one (v1's was %q)", p2, p1)
	}
	if c := ev2.Data.Changes; len(c) != 1 || c[0].Address != "terraform_data.x" || c[0].Action != "create" {
		t.Errorf("v2's plan changes = %+v", c)
	}
	st := h.app(app)
	if st.Status != state.StatusAwaitingApproval || st.DesiredRevision != rev2 || st.LastPlan == nil || st.LastPlan.ID != p2 || st.LastPlan.Revision != rev2 {
		t.Fatalf("x = %+v, want awaiting approval of %s at %.7s", st, p2, rev2)
	}

	// No token: 401, nothing applied.
	if code, b := h.act(app, "approve", "", `{}`); code != http.StatusUnauthorized {
		t.Errorf("approve without a token = %d %s, want 401", code, b)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(filter(h.events(), "deploy.started", "")); n != 0 {
		t.Fatalf("a deploy started without an authorised approval")
	}
	if s := readTFState(t, h, "platform", "x", "infra/x"); strings.Contains(s, "terraform_data") {
		t.Fatalf("applied without an authorised approval:\n%s", s)
	}

	if code, b := h.act(app, "approve", testToken, `{"caller":"carol"}`); code != http.StatusOK {
		t.Fatalf("approve = %d %s", code, b)
	}
	h.waitSynced(rev2, app)
	h.waitEvent(30*time.Second, "deploy.succeeded", app, rev2)
	evs := h.events()
	done := filter(evs, "deploy.succeeded", app)
	if len(done) != 1 || done[0].Data.Revision != rev2 || done[0].Data.PlanID != p2 || done[0].Data.Reason != state.ReasonApproved {
		t.Errorf("want one deploy.succeeded of plan %s at %.7s, reason approved\n%s", p2, rev2, eventList(evs))
	}
	if i := indexOf(evs, "deploy.started", app, rev1); i >= 0 {
		t.Errorf("v1's plan was applied\n%s", eventList(evs))
	}
	if s := readTFState(t, h, "platform", "x", "infra/x"); !strings.Contains(s, `"gated-v2"`) || strings.Contains(s, `"gated-v1"`) {
		t.Errorf("the state does not hold v2's value:\n%s", s)
	}
	var hist []state.DeployRecord
	if code, b := h.get("/api/v1/apps/" + app + "/history"); code != http.StatusOK || json.Unmarshal(b, &hist) != nil ||
		len(hist) != 1 || hist[0].Revision != rev2 || hist[0].Caller != "carol" || hist[0].Reason != state.ReasonApproved {
		t.Errorf("history = %d %s", code, b)
	}

	// Nothing pending any more: 409 with a message that says so.
	if code, b := h.act(app, "approve", testToken, `{}`); code != http.StatusConflict || !strings.Contains(b, "no plan awaiting approval") {
		t.Errorf("approve with nothing pending = %d %s, want 409 no plan awaiting approval", code, b)
	}
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)
	if code, _, errOut := runCLI(t, "approve", app, "--server", h.base); code != exitError || !strings.Contains(errOut, "no plan awaiting approval") {
		t.Errorf("driftless approve with nothing pending = %d %q", code, errOut)
	}
}

// TestE2EApprovalAfterVarsOnlyCommit: the approver approves the v1 plan
// they saw, but a vars-only commit landed meanwhile (the daemon learns of
// it only when the approval makes it poll: interval 1h). v1's plan must
// not be applied; a fresh plan for the newest revision awaits approval and
// is applied after approving again.
func TestE2EApprovalAfterVarsOnlyCommit(t *testing.T) {
	testenv.Short(t)
	start := time.Now()
	defer func() { t.Logf("runtime %s", time.Since(start).Round(100*time.Millisecond)) }()
	g, rev1 := gatedRepo(t)
	dir := t.TempDir()
	cfg := replaceOnce(t, daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""), `interval       = "1s"`, `interval       = "1h"`)
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", cfg), map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	const app = "platform/x"

	p1 := h.waitEvent(90*time.Second, "plan.awaiting_approval", app, rev1).Data.PlanID
	g.Write("infra/x/vars.tfvars", "value = \"gated-v2\"\n")
	rev2 := g.Commit("x: v2 (vars only)")

	code, b := h.act(app, "approve", testToken, `{"caller":"dave"}`)
	switch code {
	case http.StatusOK: // accepted for the plan the daemon knew; it must find the new commit before applying
	case http.StatusConflict:
		if !strings.Contains(b, "approval") {
			t.Errorf("the refusal does not say why: %s", b)
		}
	default:
		t.Fatalf("approve = %d %s", code, b)
	}
	p2 := h.waitEvent(60*time.Second, "plan.awaiting_approval", app, rev2).Data.PlanID
	if p2 == p1 {
		t.Errorf("the plan of v2 has v1's id %s", p1)
	}
	time.Sleep(1 * time.Second)
	evs := h.events()
	if n := len(filter(evs, "deploy.started", "")); n != 0 {
		t.Fatalf("the approval of v1's plan applied something\n%s", eventList(evs))
	}
	if s := readTFState(t, h, "platform", "x", "infra/x"); strings.Contains(s, "terraform_data") {
		t.Fatalf("applied by a stale approval:\n%s", s)
	}
	st := h.app(app)
	if st.Status != state.StatusAwaitingApproval || st.LastPlan == nil || st.LastPlan.ID != p2 || st.AppliedRevision != "" {
		t.Fatalf("x = %+v, want plan %s of %.7s awaiting approval", st, p2, rev2)
	}
	if code == http.StatusOK && !strings.Contains(h.logs.String(), "the approved plan is no longer current") {
		t.Errorf("the daemon's log does not say why the approval was not applied")
	}

	// Approving again applies the newest revision's plan.
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)
	t.Setenv("USER", "dave")
	if code, out, errOut := runCLI(t, "approve", app, "--server", h.base); code != exitOK || !strings.Contains(out, "approve accepted") {
		t.Fatalf("driftless approve = %d %q %q", code, out, errOut)
	}
	h.waitSynced(rev2, app)
	h.waitEvent(30*time.Second, "deploy.succeeded", app, rev2)
	evs = h.events()
	done := filter(evs, "deploy.succeeded", app)
	if len(done) != 1 || done[0].Data.PlanID != p2 || done[0].Data.Revision != rev2 {
		t.Errorf("want one deploy.succeeded of plan %s\n%s", p2, eventList(evs))
	}
	if s := readTFState(t, h, "platform", "x", "infra/x"); !strings.Contains(s, `"gated-v2"`) || strings.Contains(s, `"gated-v1"`) {
		t.Errorf("the state does not hold v2's value:\n%s", s)
	}
}

// githubPush sends a GitHub push webhook for the repo at cloneURL signed
// with secret ("" sends no signature); it returns status and body.
func (h *e2e) githubPush(cloneURL, secret string, sign bool) (int, string) {
	h.t.Helper()
	body := fmt.Sprintf(`{"ref":"refs/heads/main","repository":{"clone_url":%q}}`, cloneURL)
	req, err := http.NewRequest(http.MethodPost, h.base+"/hooks/github", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "e2e-delivery")
	if sign {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		h.t.Fatalf("POST /hooks/github: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestE2EWebhook: with a 1 h poll interval only a push webhook makes the
// daemon look at the repo: a bad or missing signature is refused (401) and
// triggers nothing; a valid one is accepted (202) and the commit deployed.
func TestE2EWebhook(t *testing.T) {
	testenv.Short(t)
	start := time.Now()
	defer func() { t.Logf("runtime %s", time.Since(start).Round(100*time.Millisecond)) }()
	const secret = "whsec-e2e-0123456789"
	g, rev1 := newStacksRepo(t)
	dir := t.TempDir()
	cfg := replaceOnce(t, daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""),
		`interval       = "1s"`, `interval       = "1h"
  webhook_secret = env("GITHUB_WEBHOOK_SECRET")`)
	h := startE2E(t, writeFile(t, dir, "driftless.hcl", cfg),
		map[string]string{"DRIFTLESS_API_TOKEN": testToken, "GITHUB_WEBHOOK_SECRET": secret})
	h.waitSynced(rev1, "platform/network", "platform/app") // the poll at start-up

	g.Write("infra/app/main.tf", strings.Replace(appTFv1, "/v1", "/v2", 1))
	rev2 := g.Commit("app: v2")
	for _, bad := range []struct {
		name, secret string
		sign         bool
	}{
		{"wrong secret", "not-the-secret", true},
		{"no signature", "", false},
	} {
		if code, b := h.githubPush(g.URL(), bad.secret, bad.sign); code != http.StatusUnauthorized {
			t.Errorf("webhook with %s = %d %s, want 401", bad.name, code, b)
		}
	}
	time.Sleep(3 * time.Second)
	if i := indexOf(h.events(), "source.updated", "platform", rev2); i >= 0 {
		t.Fatalf("a webhook with a bad signature made the daemon poll: source.updated at %.7s", rev2)
	}
	if a := h.apps()["platform/app"]; a.DesiredRevision != rev1 || a.AppliedRevision != rev1 {
		t.Fatalf("app = %+v after bad webhooks, want still at %.7s", a, rev1)
	}

	sent := time.Now()
	if code, b := h.githubPush(g.URL(), secret, true); code != http.StatusAccepted || !strings.Contains(b, "triggered") {
		t.Fatalf("webhook with a valid signature = %d %s, want 202 triggered", code, b)
	}
	h.waitSyncedWithin(30*time.Second, rev2, "platform/network", "platform/app")
	h.waitEvent(30*time.Second, "deploy.succeeded", "platform/app", rev2)
	t.Logf("valid webhook → app synced at v2 in %s", time.Since(sent).Round(10*time.Millisecond))
	evs := h.events()
	if i := indexOf(evs, "deploy.succeeded", "platform/app", rev2); i < 0 {
		t.Errorf("no deploy.succeeded at v2\n%s", eventList(evs))
	}
	if n := len(filter(evs, "source.updated", "platform")); n != 2 {
		t.Errorf("%d source.updated, want 2", n)
	}
	if strings.Contains(h.logs.String(), secret) {
		t.Errorf("the webhook secret is in the daemon's log")
	}
}
