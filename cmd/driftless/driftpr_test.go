package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/terraform"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/driftpr"
	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// `driftless drift REPO/APP --pr` posts to the daemon's drift-pr endpoint
// with the token and prints what the daemon did: the pull request and
// what to change by hand, the raw answer with -o json, a refusal as an
// error; --pr needs one REPO/APP and goes with drift only.
func TestCLIDriftPR(t *testing.T) {
	results := map[string]any{
		"web": driftpr.Result{Action: driftpr.OpenedPullRequest, Branch: "driftless/drift/web", Pushed: true,
			Ref:     forge.Ref{Number: 12, URL: "https://github.com/acme/platform/pull/12", Created: true},
			Changes: []driftpr.Change{{Path: "desired_count", Attribute: "desired_count", Desired: "1", Live: "5"}},
			ByHand:  []driftpr.ByHand{{Path: "task_definition.containers.web.environment.A", Reason: driftpr.ReasonNotInBlock}}},
		"api": driftpr.Result{Action: driftpr.Unchanged, Branch: "driftless/drift/api"},
		"net": driftpr.Result{Action: driftpr.OpenedIssue, Ref: forge.Ref{Number: 3, URL: "https://github.com/acme/platform/issues/3"}},
	}
	var callers []string
	s := api.New(apiAdapter{&reconciler.Controller{}}, nil, config.Secret(testToken), prometheus.NewRegistry(), nil)
	s.SetDriftPR(func(_ context.Context, repo, app, caller string) (any, error) {
		callers = append(callers, caller)
		if r, ok := results[app]; ok && repo == "platform" {
			return r, nil
		}
		return nil, fmt.Errorf("%w: platform/%s has no open drift", state.ErrConflict, app)
	})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)
	t.Setenv("USER", "ada")

	code, out, errOut := runCLI(t, "drift", "platform/web", "--pr", "--server", srv.URL)
	want := "platform/web: pull request #12 opened https://github.com/acme/platform/pull/12 (branch driftless/drift/web, 1 attribute(s) set to live values)\n" +
		"  change by hand: task_definition.containers.web.environment.A: " + driftpr.ReasonNotInBlock + "\n"
	if code != exitOK || out != want {
		t.Errorf("drift --pr = %d\n%s\nwant\n%s\nstderr %s", code, out, want, errOut)
	}
	code, out, _ = runCLI(t, "drift", "platform/web", "--pr", "-o", "json", "--server", srv.URL)
	var res driftpr.Result
	if err := json.Unmarshal([]byte(out), &res); code != exitOK || err != nil || res.Ref.Number != 12 || res.Changes[0].Live != "5" {
		t.Errorf("drift --pr -o json = %d %v\n%s", code, err, out)
	}
	if code, out, _ := runCLI(t, "drift", "platform/api", "--pr", "--server", srv.URL); code != exitOK || !strings.Contains(out, "proposed already") {
		t.Errorf("drift --pr of a drift already proposed = %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "drift", "platform/net", "--pr", "--server", srv.URL); code != exitOK || !strings.Contains(out, "platform/net: issue #3") {
		t.Errorf("drift --pr of a stack = %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, "drift", "platform/clean", "--pr", "--server", srv.URL); code != exitError || !strings.Contains(errOut, "no open drift") {
		t.Errorf("drift --pr without drift = %d %q", code, errOut)
	}
	if len(callers) == 0 || callers[0] != "cli:ada" {
		t.Errorf("callers = %q", callers)
	}
	for _, args := range [][]string{{"drift", "--pr"}, {"drift", "platform", "--pr"}, {"reconcile", "platform/web", "--pr"}} {
		if code, _, _ := runCLI(t, append(args, "--server", srv.URL)...); code != exitUsage {
			t.Errorf("%q = %d, want a usage error", args, code)
		}
	}
	t.Setenv("DRIFTLESS_API_TOKEN", "wrong")
	if code, _, _ := runCLI(t, "drift", "platform/web", "--pr", "--server", srv.URL); code != exitError {
		t.Errorf("drift --pr with a wrong token = %d", code)
	}
}

// The repos on GitHub become drift pull request targets; drift_pr on a
// repo that is not on GitHub, or without a GitHub client, stops the start.
func TestDriftPRRepos(t *testing.T) {
	open := func(name, url string) reconciler.Repo {
		src, err := sources.Open(t.Context(), sources.Config{Name: name, URL: url, Dir: filepath.Join(t.TempDir(), name)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return reconciler.Repo{Name: name, Source: src}
	}
	cfg := &config.Config{GitHub: &config.GitHubConfig{}, Repos: []config.RepoConfig{
		{Name: "platform", URL: "https://github.com/acme/platform.git", Branch: "main", Path: "deploy", DriftPR: true},
		{Name: "tools", URL: "git@github.com:acme/tools.git", Branch: "trunk"},
		{Name: "local", URL: "/srv/git/local"},
	}}
	repos := []reconciler.Repo{open("platform", cfg.Repos[0].URL), open("tools", "https://github.com/acme/tools.git"), open("local", t.TempDir())}
	d := &daemon{cfg: cfg}
	all, auto, err := driftPRRepos(d, driftPRSetup{Repos: repos, Forge: fakeForgeForDaemon{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || len(auto) != 1 || auto["platform"].Forge != (forge.Repo{Owner: "acme", Name: "platform"}) ||
		auto["platform"].Branch != "main" || auto["platform"].Path != "deploy" || all["tools"].Forge.Name != "tools" {
		t.Errorf("all = %+v\nauto = %+v", all, auto)
	}
	if _, _, err := driftPRRepos(d, driftPRSetup{Repos: repos}); err == nil || !strings.Contains(err.Error(), "no GitHub client") {
		t.Errorf("drift_pr without a client: %v", err)
	}
	cfg.Repos[2].DriftPR = true
	if _, _, err := driftPRRepos(d, driftPRSetup{Repos: repos, Forge: fakeForgeForDaemon{}}); err == nil || !strings.Contains(err.Error(), `"local" sets drift_pr`) {
		t.Errorf("drift_pr off GitHub: %v", err)
	}
}

// fakeForgeForDaemon stands for the GitHub client in wiring tests.
type fakeForgeForDaemon struct{ forge.Forge }

// issueForge is a forge.Forge that keeps issues by marker and pull
// requests by head, counting the calls.
type issueForge struct {
	forge.Forge
	mu     sync.Mutex
	calls  int
	issues map[string]forge.Issue
}

func (f *issueForge) OpenIssue(_ context.Context, _ forge.Repo, is forge.Issue) (forge.Ref, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	_, had := f.issues[is.Marker]
	f.issues[is.Marker] = is
	return forge.Ref{Number: 1, URL: "https://github.com/acme/platform/issues/1", Created: !had}, nil
}

func (f *issueForge) snapshot() (int, map[string]forge.Issue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, maps.Clone(f.issues)
}

// The daemon wiring end to end, on a real Git origin and embedded NATS: a
// stack's open drift asked for with `driftless drift --pr` becomes an
// issue; the drift.detected event of that drift (a drift_pr repo) changes
// nothing more; a new drift's event updates the issue through the consumer.
func TestDaemonDriftPR(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := testenv.NewGitRepo(t)
	w.Write("deploy/apps.hcl", "stack \"net\" {\n  path = \"infra/net\"\n}\n")
	w.Write("infra/net/main.tf", "resource \"terraform_data\" \"net\" {\n  input = \"v1\"\n}\n")
	rev := w.Commit("net")
	bare := filepath.Join(t.TempDir(), "origin.git")
	w.Git("init", "-q", "--bare", "-b", "main", bare)
	w.Git("push", "-q", bare, "main")
	src, err := sources.Open(ctx, sources.Config{Name: "platform", URL: bare, Dir: filepath.Join(t.TempDir(), "clone")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	as := []appliers.Applier{terraform.NewDecoder()}
	repos := []reconciler.Repo{{Name: "platform", Path: "deploy", Source: src}}
	store := state.NewMemStore()
	log := slog.New(slog.DiscardHandler)
	ctrl, err := reconciler.New(reconciler.Options{Instance: "t", Loader: manifest.New(as...), Store: store, Events: discardEvents{}, Log: log}, repos)
	if err != nil {
		t.Fatal(err)
	}
	setDrift := func(items []appliers.DriftItem) state.DriftInfo {
		di := state.DriftInfo{Fingerprint: drift.Fingerprint(items), Items: items, FirstSeen: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)}
		if _, err := store.Update(ctx, "platform", "net", func(s *state.AppState) error {
			s.Kind, s.Status, s.DesiredRevision, s.AppliedRevision, s.Drift = "stack", state.StatusDrifted, rev, rev, &di
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return di
	}
	first := setDrift([]appliers.DriftItem{{Address: "terraform_data.net", Attributes: []string{"input"}, Action: "update"}})
	_, js := testenv.NATS(t)
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{GitHub: &config.GitHubConfig{}, Repos: []config.RepoConfig{
		{Name: "platform", URL: "https://github.com/acme/platform.git", Branch: "main", Path: "deploy", DriftPR: true}}}
	d := &daemon{cfg: cfg, log: log, ctrl: ctrl, api: api.New(apiAdapter{ctrl}, nil, config.Secret(testToken), prometheus.NewRegistry(), log),
		cancel: cancel, errs: make(chan error, 4)}
	ff := &issueForge{issues: map[string]forge.Issue{}}
	if err := d.startDriftPR(ctx, driftPRSetup{JS: js, Appliers: as, Repos: repos, Forge: ff, Red: redact.New()}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.api.Handler())
	defer srv.Close()
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)

	code, out, errOut := runCLI(t, "drift", "platform/net", "--pr", "--server", srv.URL)
	if code != exitOK || !strings.Contains(out, "platform/net: issue #1 https://github.com/acme/platform/issues/1") {
		t.Fatalf("drift --pr = %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "drift", "platform/net", "--pr", "--server", srv.URL); code != exitOK || !strings.Contains(out, "proposed already") {
		t.Errorf("drift --pr again = %d %q", code, out)
	}
	publish := func(di state.DriftInfo) {
		data := notify.Data{Repo: "platform", App: "net", Kind: "stack", Revision: rev, FirstSeen: &di.FirstSeen,
			Extra: map[string]string{"fingerprint": di.Fingerprint, "transition": "new"}}
		for _, it := range di.Items {
			data.Drift = append(data.Drift, notify.DriftItem{Address: it.Address, Attributes: it.Attributes, Action: it.Action})
		}
		ev := notify.New("t", notify.CatDrift, notify.ActDetected, data)
		b, _ := json.Marshal(ev)
		if _, err := js.Publish(ctx, ev.NATSSubject(), b); err != nil {
			t.Fatal(err)
		}
	}
	publish(first) // the same drift: already proposed
	second := setDrift([]appliers.DriftItem{{Address: "terraform_data.net", Attributes: []string{"input"}, Action: "replace"}})
	publish(second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, issues := ff.snapshot()
		if body := issues["<!-- driftless:drift:platform/net -->"].Body; strings.Contains(body, second.Fingerprint) {
			if n != 2 {
				t.Errorf("forge calls = %d, want 2 (the CLI's issue, the new drift's update)", n)
			}
			if !strings.Contains(body, "-/+ terraform_data.net") {
				t.Errorf("issue body:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer did not update the issue (calls %d)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	d.wg.Wait()
}
