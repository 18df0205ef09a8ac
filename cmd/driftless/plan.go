package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/dropexec"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/state"
)

// cmdPlan is a one-shot diff of desired against live state: exit 0 when
// nothing would change, 2 when something would, 1 on error. It needs no
// daemon and writes no state; it shares the daemon's state_dir (Git store,
// Terraform work dirs) so plans see the same Terraform state.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan", stderr)
	cfgPath := fs.String("c", "driftless.hcl", "controller config file")
	out := fs.String("o", "table", "output format: table or json (with --ref: markdown too)")
	ref := fs.String("ref", "", "preview REF (a branch, refs/pull/N/head or a SHA) against the tracked branch, as a pull request comment would")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *out == "markdown" && *ref == "" {
		return usagef("-o markdown needs --ref REF")
	}
	if *out != "markdown" {
		if err := checkFormat(*out); err != nil {
			return err
		}
	}
	if len(pos) > 1 {
		return usagef("plan takes at most one REPO/APP (or REPO)")
	}
	if err := dropexec.SetNonDumpable(); err != nil { // as the daemon: Terraform runs as a child
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if err := prepareStateDir(cfg); err != nil {
		return err
	}
	red := newRedactor(cfg)
	log := newLogger(stderr, red, slog.LevelWarn)
	wantRepo, wantApp := "", ""
	if len(pos) == 1 {
		wantRepo, wantApp, _ = strings.Cut(pos[0], "/")
	}
	as, err := buildAppliers(ctx, cfg, red, log)
	if err != nil {
		return err
	}
	if *ref != "" {
		if wantApp != "" {
			return usagef("--ref previews every app a change touches: name a REPO, not a REPO/APP")
		}
		return planRef(ctx, planRefArgs{cfg: cfg, cfgPath: *cfgPath, repo: wantRepo, ref: *ref, format: *out,
			loader: manifest.New(as...), red: red, log: log, stdout: stdout})
	}
	var repos []reconciler.Repo
	for _, rc := range cfg.Repos {
		if wantRepo != "" && rc.Name != wantRepo {
			continue
		}
		src, err := openSource(ctx, cfg, rc, red, log)
		if err != nil {
			return fmt.Errorf("repo %q: %w", rc.Name, err)
		}
		repos = append(repos, reconciler.Repo{Name: rc.Name, Path: rc.Path, Source: src})
	}
	if len(repos) == 0 {
		return fmt.Errorf("no repo named %q in %s", wantRepo, *cfgPath)
	}
	ctrl, err := reconciler.New(reconciler.Options{Instance: cfg.Instance, Loader: manifest.New(as...), Store: state.NewMemStore(),
		Events: discardEvents{}, Log: log, Scrub: red.String, AddSecrets: red.Add}, repos)
	if err != nil {
		return err
	}
	var all []reconciler.PlanResult
	for _, r := range repos {
		res, err := ctrl.PlanOnce(ctx, r.Name, wantApp)
		if err != nil {
			return err
		}
		all = append(all, res...)
	}
	changed, failed := false, false
	for _, r := range all {
		changed = changed || r.Changed
		failed = failed || r.Error != ""
	}
	if *out == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return err
		}
	} else {
		for _, r := range all {
			printPlanLine(stdout, planLine{Repo: r.Repo, App: r.App, Kind: r.Kind, Error: r.Error, Changed: r.Changed, Summary: r.Summary, Changes: r.Changes})
		}
	}
	switch {
	case failed:
		return exitCode(exitError)
	case changed:
		return exitCode(exitChanges)
	}
	return nil
}

// discardEvents is the Emitter of one-shot commands: they announce nothing.
type discardEvents struct{}

func (discardEvents) Emit(_ context.Context, category, action string, d notify.Data) notify.Event {
	return notify.New("cli", category, action, d)
}
