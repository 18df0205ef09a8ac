package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/driftpr"
	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
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
