package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/driftpr"
	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/internal/client"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/state"
)

// driftPRSetup is what drift pull requests need from startDaemon.
type driftPRSetup struct {
	JS       jetstream.JetStream
	Appliers []appliers.Applier
	Repos    []reconciler.Repo
	Forge    forge.Forge // the GitHub client; nil without a github block
	Red      *redact.Redactor
}

// startDriftPR wires drift pull requests into the daemon (after d.ctrl and
// d.api exist, before the API listens): the endpoint behind `driftless
// drift REPO/APP --pr`, and, when a repo sets drift_pr = true, the consumer
// that proposes every drift.detected event of those repos.
func (d *daemon) startDriftPR(ctx context.Context, s driftPRSetup) error {
	repos, auto, err := driftPRRepos(d, s)
	if err != nil {
		return err
	}
	if s.Forge == nil {
		d.api.SetDriftPR(func(context.Context, string, string, string) (any, error) {
			return nil, fmt.Errorf("%w: drift pull requests need a github { token = ... } block in the controller config", state.ErrConflict)
		})
		return nil
	}
	replicas := max(d.cfg.NATS.Replicas, 1)
	ledger, err := driftpr.OpenKVLedger(ctx, s.JS, replicas)
	if err != nil {
		return err
	}
	log := d.log.With("component", "drift-pr")
	p := driftpr.New(driftpr.Options{Loader: manifest.New(s.Appliers...), Forge: s.Forge, Ledger: ledger, Scrub: s.Red.String, Log: log})
	d.api.SetDriftPR(func(ctx context.Context, repo, app, caller string) (any, error) {
		r, ok := repos[repo]
		if !ok {
			return nil, fmt.Errorf("%w: repo %q is not on GitHub (or not configured)", state.ErrNotFound, repo)
		}
		st, err := d.ctrl.App(ctx, repo, app)
		if err != nil {
			return nil, err
		}
		if st.Drift == nil {
			return nil, fmt.Errorf("%w: %s/%s has no open drift", state.ErrConflict, repo, app)
		}
		log.Info("drift pull request asked for", "repo", repo, "app", app, "caller", caller)
		res, err := p.Propose(ctx, r, driftpr.Drift{App: app, Revision: st.AppliedRevision, Fingerprint: st.Drift.Fingerprint,
			Items: st.Drift.Items, FirstSeen: st.Drift.FirstSeen})
		if errors.Is(err, driftpr.ErrNoDrift) {
			return nil, fmt.Errorf("%w: %w", state.ErrConflict, err)
		}
		return res, err
	})
	if len(auto) == 0 {
		return nil
	}
	c := driftpr.NewConsumer(s.JS, p, driftpr.ConsumerOptions{Repos: auto, Log: d.log,
		Current: func(ctx context.Context, repo, app string) (string, error) {
			st, err := d.ctrl.App(ctx, repo, app)
			if err != nil || st.Drift == nil {
				return "", err
			}
			return st.Drift.Fingerprint, nil
		}})
	d.goRun("drift-pr", func() error { return c.Run(ctx) })
	return nil
}

// driftPRRepos maps the configured repos on GitHub to their drift
// pull request targets (all of them, and those with drift_pr = true). A
// drift_pr repo whose URL is not a GitHub repository is an error.
func driftPRRepos(d *daemon, s driftPRSetup) (all, auto map[string]driftpr.Repo, err error) {
	all, auto = map[string]driftpr.Repo{}, map[string]driftpr.Repo{}
	srcs := map[string]driftpr.Source{}
	for _, r := range s.Repos {
		if src, ok := r.Source.(driftpr.Source); ok {
			srcs[r.Name] = src
		}
	}
	apiURL := ""
	if d.cfg.GitHub != nil {
		apiURL = d.cfg.GitHub.APIURL
	}
	for _, rc := range d.cfg.Repos {
		fr, onForge := forge.RepoFromURL(rc.URL, apiURL)
		src := srcs[rc.Name]
		if rc.DriftPR && (!onForge || src == nil) {
			return nil, nil, fmt.Errorf("repo %q sets drift_pr, but %s is not a repository on the GitHub of the github block", rc.Name, redact.PublicURL(rc.URL))
		}
		if rc.DriftPR && s.Forge == nil {
			return nil, nil, fmt.Errorf("repo %q sets drift_pr, but the daemon has no GitHub client", rc.Name)
		}
		if !onForge || src == nil {
			continue
		}
		all[rc.Name] = driftpr.Repo{Name: rc.Name, Branch: rc.Branch, Path: rc.Path, Source: src, Forge: fr}
		if rc.DriftPR {
			auto[rc.Name] = all[rc.Name]
		}
	}
	return all, auto, nil
}

// printDriftPR asks the daemon to propose the drift of REPO/APP and prints
// what it did.
func printDriftPR(ctx context.Context, c *client.Client, target, format string, w io.Writer) error {
	repo, app, ok := strings.Cut(target, "/")
	if !ok || repo == "" || app == "" || strings.Contains(app, "/") {
		return usagef("drift --pr takes one REPO/APP")
	}
	raw, err := c.DriftPR(ctx, repo, app, callerName())
	if err != nil {
		return err
	}
	if format == "json" {
		_, err := fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	var res driftpr.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decoding the daemon's answer: %w", err)
	}
	switch res.Action {
	case driftpr.Unchanged:
		fmt.Fprintf(w, "%s: this drift was proposed already (branch %s); nothing pushed\n", target, client.Clean(res.Branch))
		return nil
	case driftpr.OpenedIssue:
		fmt.Fprintf(w, "%s: issue #%d %s\n", target, res.Ref.Number, client.Clean(res.Ref.URL))
	default:
		verb := "updated"
		if res.Ref.Created {
			verb = "opened"
		}
		fmt.Fprintf(w, "%s: pull request #%d %s %s (branch %s, %d attribute(s) set to live values)\n", target, res.Ref.Number, verb,
			client.Clean(res.Ref.URL), client.Clean(res.Branch), len(res.Changes))
	}
	for _, h := range res.ByHand {
		fmt.Fprintf(w, "  change by hand: %s: %s\n", client.Clean(h.Path), client.Clean(h.Reason))
	}
	return nil
}
