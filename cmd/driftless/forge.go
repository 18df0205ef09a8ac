package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/forge/github"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/redact"
	forgereport "github.com/driftless/driftless/notify/forge"
)

// newForge builds the GitHub client of cfg's github block once, or returns
// nil without one. The deployment reporter, the preview runner and the
// drift pull requests share it.
func newForge(cfg *config.Config, log *slog.Logger) (forge.Forge, error) {
	if cfg.GitHub == nil {
		return nil, nil
	}
	c, err := github.New(github.Options{Token: cfg.GitHub.Token.Value(), APIURL: cfg.GitHub.APIURL, Log: log.With("component", "github")})
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return c, nil
}

// startDeployments runs the reporter of deploys as GitHub deployments
// beside the Slack notifier; it stops with the daemon. No-op without a
// forge.
func (d *daemon) startDeployments(ctx context.Context, js jetstream.JetStream, fg forge.Forge, red *redact.Redactor, replicas int) error {
	if fg == nil {
		return nil
	}
	o := forgereport.Options{Forge: fg, APIURL: d.cfg.GitHub.APIURL, ExternalURL: d.cfg.ExternalURL,
		RepoURLs: map[string]string{}, Scrub: red.String, Replicas: replicas}
	for _, r := range d.cfg.Repos {
		o.RepoURLs[r.Name] = redact.PublicURL(r.URL)
	}
	rep, err := forgereport.New(js, o, d.log.With("component", "deployments"))
	if err != nil {
		return err
	}
	d.goRun("deployments", func() error { return rep.Run(ctx) })
	return nil
}
