package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/preview"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/sources"
)

// previewsDir is where the daemon's previews get their Terraform work
// dirs, beside the deploys' (STATE_DIR/terraform): they share the plugin
// cache only. A `plan --ref` gets a directory of its own beside it.
func previewsDir(cfg *config.Config) string { return filepath.Join(cfg.StateDir, "previews", "daemon") }

// previewDeps is what startPreviews needs from the daemon.
type previewDeps struct {
	Config *config.Config
	Repos  []reconciler.Repo // the daemon's; their Source must be a preview.Source (*sources.Repo is)
	Loader *manifest.Loader
	Forge  forge.Forge
	Events preview.Emitter
	Red    *redact.Redactor
	Log    *slog.Logger
}

// startPreviews builds the pull request preview runner for the repos with
// pull_requests { enabled = true }; nil (and no error) when there is none.
// The daemon runs it (Run) for its lifetime and hands it the pull_request
// webhooks (Handle).
func startPreviews(_ context.Context, d previewDeps) (*preview.Runner, error) {
	srcs := map[string]preview.Source{}
	for _, r := range d.Repos {
		if s, ok := r.Source.(preview.Source); ok {
			srcs[r.Name] = s
		}
	}
	var repos []preview.RepoOptions
	for _, rc := range d.Config.Repos {
		if rc.PullRequests == nil || !rc.PullRequests.Enabled {
			continue
		}
		src, ok := srcs[rc.Name]
		if !ok {
			return nil, fmt.Errorf("previews: repo %q has no source that can fetch pull requests", rc.Name)
		}
		apiURL := ""
		if d.Config.GitHub != nil {
			apiURL = d.Config.GitHub.APIURL
		}
		fr, ok := forge.RepoFromURL(rc.URL, apiURL)
		if !ok {
			fr, ok = localForgeRepo(rc.URL)
		}
		if !ok {
			return nil, fmt.Errorf("previews: repo %q enables pull_requests but %s is not a repository on the GitHub of the github block", rc.Name, redact.PublicURL(rc.URL))
		}
		repos = append(repos, preview.RepoOptions{Repo: preview.Repo{Name: rc.Name, Branch: branchOf(rc), Path: rc.Path, Source: src},
			Forge: fr, AllowForks: rc.PullRequests.AllowForks, MaxParallel: rc.PullRequests.MaxParallel})
	}
	if len(repos) == 0 {
		return nil, nil
	}
	if d.Forge == nil {
		return nil, fmt.Errorf("previews: pull_requests need the github block's client")
	}
	// Work dirs a previous run left (a crash) go: the daemon's previews
	// are its own.
	if err := os.RemoveAll(previewsDir(d.Config)); err != nil {
		return nil, fmt.Errorf("previews: %w", err)
	}
	log := d.Log.With("component", "previews")
	return preview.New(preview.Options{Forge: d.Forge, Events: d.Events, Repos: repos, Log: log,
		Planner: &preview.Planner{Loader: d.Loader, WorkDir: previewsDir(d.Config), Redactor: d.Red, Log: log}})
}

// previewRequest is the preview of a pull_request webhook.
func previewRequest(ev api.PullRequestEvent) preview.Request {
	return preview.Request{Repo: ev.Repo, Number: ev.Number, Action: ev.Action, HeadSHA: ev.HeadSHA,
		HeadRef: ev.HeadRef, BaseRef: ev.BaseRef, Fork: ev.Fork, URL: ev.URL}
}

// localForgeRepo names the forge repository of a local mirror (a path or
// a file:// URL) by its last two directories, OWNER/NAME[.git].
func localForgeRepo(u string) (forge.Repo, bool) {
	p, isFile := strings.CutPrefix(u, "file://")
	if !isFile && !filepath.IsAbs(u) {
		return forge.Repo{}, false
	}
	p = strings.TrimSuffix(filepath.Clean(p), ".git")
	name, owner := filepath.Base(p), filepath.Base(filepath.Dir(p))
	if name == "" || owner == "" || owner == "/" || owner == "." || name == "/" {
		return forge.Repo{}, false
	}
	return forge.Repo{Owner: owner, Name: name}, true
}

func branchOf(rc config.RepoConfig) string {
	if rc.Branch == "" {
		return "main"
	}
	return rc.Branch
}

// planRefArgs are the inputs of `driftless plan --ref`.
type planRefArgs struct {
	cfg     *config.Config
	cfgPath string
	repo    string // "" when the config has one repo
	ref     string
	format  string // table, json, markdown
	loader  *manifest.Loader
	red     *redact.Redactor
	log     *slog.Logger
	stdout  io.Writer
}

// planRef previews a.ref against the tracked branch, as a pull request
// comment would, and prints it: markdown is the comment's body, json the
// structured result. Exit codes as plan's: 0 no changes, 2 changes, 1 an
// error (invalid manifests, an app that could not be planned).
func planRef(ctx context.Context, a planRefArgs) error {
	var rc *config.RepoConfig
	for i := range a.cfg.Repos {
		if r := &a.cfg.Repos[i]; a.repo == r.Name || a.repo == "" && len(a.cfg.Repos) == 1 {
			rc = r
		}
	}
	if rc == nil {
		if a.repo == "" {
			return usagef("--ref needs a REPO: %s watches %d repos", a.cfgPath, len(a.cfg.Repos))
		}
		return fmt.Errorf("no repo named %q in %s", a.repo, a.cfgPath)
	}
	src, err := openSource(ctx, a.cfg, *rc, a.red, a.log)
	if err != nil {
		return fmt.Errorf("repo %q: %w", rc.Name, err)
	}
	if _, _, err := src.Poll(ctx); err != nil {
		return err
	}
	n := config.DefaultPreviewParallel
	if rc.PullRequests != nil && rc.PullRequests.MaxParallel > 0 {
		n = rc.PullRequests.MaxParallel
	}
	work, err := os.MkdirTemp(filepath.Dir(previewsDir(a.cfg)), "cli-")
	if err != nil {
		if err = os.MkdirAll(filepath.Dir(previewsDir(a.cfg)), 0o711); err == nil {
			work, err = os.MkdirTemp(filepath.Dir(previewsDir(a.cfg)), "cli-")
		}
		if err != nil {
			return fmt.Errorf("preview work dir: %w", err)
		}
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o711); err != nil {
		return fmt.Errorf("preview work dir: %w", err)
	}
	p := &preview.Planner{Loader: a.loader, WorkDir: work, Redactor: a.red, Log: a.log}
	res, perr := p.Preview(ctx, preview.Input{Repo: preview.Repo{Name: rc.Name, Branch: branchOf(*rc), Path: rc.Path, Source: src},
		Ref: a.ref, Sem: make(chan struct{}, n)})
	if perr != nil && res.Revision == "" && len(res.Diagnostics) == 0 {
		return perr // nothing to show: the ref could not be read
	}
	switch a.format {
	case "markdown":
		if _, err := io.WriteString(a.stdout, preview.Render(res)); err != nil {
			return err
		}
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	default:
		printPreviewTable(a.stdout, res)
	}
	switch {
	case res.Failed():
		return exitCode(exitError)
	case res.Changed():
		return exitCode(exitChanges)
	}
	return nil
}

// printPreviewTable prints a preview as plan's table does.
func printPreviewTable(w io.Writer, res *preview.Result) {
	if len(res.Diagnostics) > 0 {
		fmt.Fprintf(w, "%s at %s: the manifests are invalid:\n", res.Repo, sources.ShortSHA(res.Revision))
		for _, d := range res.Diagnostics {
			fmt.Fprintf(w, "  %s\n", d)
		}
		return
	}
	if res.Error != "" {
		fmt.Fprintf(w, "%s: error: %s\n", res.Repo, res.Error)
	}
	for _, r := range res.Apps {
		printPlanLine(w, planLine{Repo: res.Repo, App: r.App, Kind: r.Kind, Error: r.Error, Changed: r.Changed, Summary: r.Summary,
			Changes: r.Changes, Unknown: r.Unknown})
	}
	for _, u := range res.Unchanged {
		fmt.Fprintf(w, "%s/%s: unchanged\n", res.Repo, u)
	}
}
