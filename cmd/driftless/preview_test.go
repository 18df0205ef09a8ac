package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/preview"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/sources"
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

// recordingForge is the smallest forge.Forge: the last comment body and
// the statuses set, by SHA.
type recordingForge struct {
	mu       sync.Mutex
	body     string
	comments int
	statuses map[string][]string
}

func (f *recordingForge) EditComment(_ context.Context, _ forge.Repo, _ int, _ string, edit func(string) (string, bool)) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, write := edit(f.body)
	if !write {
		return 0, nil
	}
	if f.body == "" {
		f.comments++
	}
	f.body = body
	return 1, nil
}
func (f *recordingForge) FindComment(context.Context, forge.Repo, int, string) (int64, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.body == "" {
		return 0, "", forge.ErrNotFound
	}
	return 1, f.body, nil
}
func (f *recordingForge) SetStatus(_ context.Context, _ forge.Repo, sha string, s forge.CommitStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses[sha] = append(f.statuses[sha], s.State)
	return nil
}
func (f *recordingForge) CreateDeployment(context.Context, forge.Repo, forge.Deployment) (int64, error) {
	return 0, errors.New("not used")
}
func (f *recordingForge) SetDeploymentStatus(context.Context, forge.Repo, int64, forge.DeploymentStatus) error {
	return errors.New("not used")
}
func (f *recordingForge) OpenPullRequest(context.Context, forge.Repo, forge.PullRequest) (forge.Ref, error) {
	return forge.Ref{}, errors.New("not used")
}
func (f *recordingForge) OpenIssue(context.Context, forge.Repo, forge.Issue) (forge.Ref, error) {
	return forge.Ref{}, errors.New("not used")
}

// startPreviews builds the daemon's runner from the config: only repos
// with pull_requests enabled, the daemon's work dir swept, a pull request
// planned with the daemon's appliers.
func TestStartPreviews(t *testing.T) {
	testenv.Short(t)
	ctx := t.Context()
	g, _ := newStacksRepo(t)
	dir := t.TempDir()
	t.Setenv("GITHUB_TOKEN", "ghp_startpreviews_test_token")
	plain := daemonConfig(t, filepath.Join(dir, "state"), g.URL(), "")
	cfg, err := config.Load(writeFile(t, dir, "plain.hcl", plain))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := startPreviews(ctx, previewDeps{Config: cfg}); r != nil || err != nil {
		t.Fatalf("no repo with pull_requests: %v %v", r, err)
	}
	withPR := replaceOnce(t, plain, "drift_interval = \"0\"\n}", "drift_interval = \"0\"\n  pull_requests {\n    enabled = true\n  }\n}") +
		"\ngithub {\n  token = env(\"GITHUB_TOKEN\")\n}\n"
	if cfg, err = config.Load(writeFile(t, dir, "driftless.hcl", withPR)); err != nil {
		t.Fatal(err)
	}
	if err := prepareStateDir(cfg); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(previewsDir(cfg), "platform", "network", "1", "left-by-a-crash")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	red := newRedactor(cfg)
	log := newLogger(io.Discard, red, slog.LevelWarn)
	as, err := buildAppliers(ctx, cfg, red, log)
	if err != nil {
		t.Fatal(err)
	}
	src, err := sources.Open(ctx, sources.Config{Name: "platform", URL: g.URL(), Dir: filepath.Join(cfg.StateDir, "git", "platform"), Redactor: red}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	f := &recordingForge{statuses: map[string][]string{}}
	r, err := startPreviews(ctx, previewDeps{Config: cfg, Repos: []reconciler.Repo{{Name: "platform", Path: "deploy", Source: src}},
		Loader: manifest.New(as...), Forge: f, Red: red, Log: log})
	if err != nil || r == nil {
		t.Fatalf("startPreviews: %v %v", r, err)
	}
	defer r.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale preview dir is still there: %v", err)
	}
	g.Git("checkout", "-q", "-b", "feature")
	g.Write("infra/network/main.tf", strings.Replace(networkTF, "net-1", "net-2", 1))
	head := g.Commit("network 2")
	g.Git("checkout", "-q", "main")
	g.Git("update-ref", "refs/pull/9/head", head)
	if r.Handle(preview.Request{Repo: "other", Number: 9, Action: "opened", BaseRef: "main"}) {
		t.Error("Handle accepted a repo without previews")
	}
	if !r.Handle(preview.Request{Repo: "platform", Number: 9, Action: "opened", HeadSHA: head, BaseRef: "main"}) {
		t.Fatal("Handle refused the pull request")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		f.mu.Lock()
		st := f.statuses[head]
		body := f.body
		f.mu.Unlock()
		if len(st) == 2 {
			if st[0] != forge.StatusPending || st[1] != forge.StatusSuccess || !strings.Contains(body, "#### `network` (stack) · 1 to add") {
				t.Errorf("statuses %v, comment:\n%s", st, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no final status: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
