package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/internal/api"
	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/dropexec"
	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/internal/natsd"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/notify/slack"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/state"
)

func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("c", "driftless.hcl", "controller config file")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("run takes no arguments, only flags")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usagef("-log-level: %v", err)
	}
	// Before anything else: Terraform, its providers and local-exec
	// commands run as children; a same-uid child must not read this
	// process's environment (tokens) or memory through /proc.
	if err := dropexec.SetNonDumpable(); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	d, err := startDaemon(ctx, cfg, stderr, lvl)
	if err != nil {
		return err
	}
	return d.wait()
}

// triggerSubject + repo asks the replica reconciling repo to poll now. It
// is outside the events stream's subjects (driftless.>).
const triggerSubject = "driftless_ctl.trigger."

// daemon is a running controller with everything it started.
type daemon struct {
	log    *slog.Logger
	cfg    *config.Config
	ns     *natsd.Server
	nc     *nats.Conn
	ctrl   *reconciler.Controller
	api    *api.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error

	// httpAddr is the address the API listens on (the actual port when
	// listen asked for port 0).
	httpAddr string
}

// newLogger returns the JSON logger with every configured secret masked.
func newLogger(w io.Writer, red *redact.Redactor, lvl slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: red.ReplaceAttr})
	return slog.New(red.Handler(h))
}

// awsSecretEnv are the AWS credentials of the controller's environment;
// they reach Terraform (AWS_* is on its allow-list) and the AWS SDK.
var awsSecretEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// secretsOf lists the secret values of a config, for redaction: the API,
// Slack, GitHub and Git tokens, webhook secrets, the NATS URL and the credentials
// in it and in repo URLs, every terraform.env value, and the AWS
// credentials of the environment.
func secretsOf(cfg *config.Config) []string {
	s := []string{cfg.APIToken.Value(), cfg.NATS.URL.Value(), cfg.NATS.Password.Value(), cfg.NATS.Token.Value()}
	s = append(s, redact.URLCredentials(cfg.NATS.URL.Value())...)
	if cfg.Slack != nil {
		s = append(s, cfg.Slack.Token.Value())
	}
	if cfg.GitHub != nil {
		s = append(s, cfg.GitHub.Token.Value())
	}
	for _, r := range cfg.Repos {
		s = append(s, r.Auth.Token.Value(), r.WebhookSecret.Value())
		s = append(s, redact.URLCredentials(r.URL)...)
	}
	for _, v := range cfg.Terraform.Env {
		s = append(s, v)
	}
	for _, k := range awsSecretEnv {
		s = append(s, os.Getenv(k))
	}
	return s
}

// newRedactor returns the process's one redactor, fed every secret of cfg;
// the components it is handed add what they learn.
func newRedactor(cfg *config.Config) *redact.Redactor { return redact.New(secretsOf(cfg)...) }

// startDaemon wires the controller from cfg and starts it.
func startDaemon(parent context.Context, cfg *config.Config, logw io.Writer, lvl slog.Level) (*daemon, error) {
	red := newRedactor(cfg)
	log := newLogger(logw, red, lvl).With("instance", cfg.Instance)
	ctx, cancel := context.WithCancel(parent)
	d := &daemon{log: log, cfg: cfg, cancel: cancel, errs: make(chan error, 4)}
	fail := func(err error) (*daemon, error) {
		d.shutdown()
		return nil, err
	}
	if err := prepareStateDir(cfg); err != nil {
		return fail(err)
	}
	nc, js, err := d.connectNATS(ctx, "driftless-"+cfg.Instance)
	if err != nil {
		return fail(err)
	}
	d.nc = nc
	replicas := max(cfg.NATS.Replicas, 1)
	if _, err := notify.EnsureStream(ctx, js, notify.StreamConfig{Replicas: replicas}); err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	pub := notify.NewPublisher(js, cfg.Instance, log, m,
		notify.WithOutbox(filepath.Join(cfg.StateDir, "outbox"), 64<<20))
	d.goRun("events", func() error { return pub.Run(ctx) })
	store, err := state.OpenKVStore(ctx, js, replicas)
	if err != nil {
		return fail(err)
	}
	fg, err := newForge(cfg, log)
	if err != nil {
		return fail(err)
	}
	as, err := buildAppliers(ctx, cfg, red, log)
	if err != nil {
		return fail(err)
	}
	var repos []reconciler.Repo
	for _, rc := range cfg.Repos {
		src, err := openSource(ctx, cfg, rc, red, log)
		if err != nil {
			return fail(fmt.Errorf("repo %q: %w", rc.Name, err))
		}
		repos = append(repos, reconciler.Repo{Name: rc.Name, URL: redact.PublicURL(rc.URL), Path: rc.Path,
			Interval: rc.Interval, DriftInterval: rc.DriftInterval, Source: src})
	}
	leases, err := reconciler.OpenLeases(ctx, js, replicas)
	if err != nil {
		return fail(err)
	}
	driftStore, err := drift.OpenKVStore(ctx, js, replicas)
	if err != nil {
		return fail(err)
	}
	loader := manifest.New(as...)
	ctrl, err := reconciler.New(reconciler.Options{Instance: cfg.Instance, Loader: loader, Store: store, Events: pub,
		Metrics: m, MaxParallel: cfg.Terraform.MaxParallel, Log: log, Connected: nc.IsConnected, Scrub: red.String, AddSecrets: red.Add,
		Leases: leases, LeaseTTL: cfg.LeaseTTL, Holder: cfg.Holder(), Broadcast: func(repo string) { publishTrigger(nc, cfg.Holder(), repo) },
		Drift: drift.NewTracker(driftStore, cfg.DriftReminder, nil)}, repos)
	if err != nil {
		return fail(err)
	}
	d.ctrl = ctrl
	// Any replica may receive an API action or webhook; the one holding the
	// repo's lease acts on it.
	if _, err := nc.Subscribe(triggerSubject+"*", func(msg *nats.Msg) {
		if ownTrigger(msg, cfg.Holder()) {
			return // this replica triggered itself already
		}
		ctrl.Trigger(strings.TrimPrefix(msg.Subject, triggerSubject))
	}); err != nil {
		return fail(fmt.Errorf("subscribing to triggers: %w", err))
	}
	hooks := webhooks{cfg: cfg, ctrl: ctrl, nc: nc}
	pv, err := startPreviews(ctx, previewDeps{Config: cfg, Repos: repos, Loader: loader, Forge: fg, Events: pub, Red: red, Log: log})
	if err != nil {
		return fail(err)
	}
	if pv != nil {
		d.goRun("previews", func() error { return pv.Run(ctx) })
		hooks.prs = func(ev api.PullRequestEvent) bool { return pv.Handle(previewRequest(ev)) }
	}
	d.api = api.New(apiAdapter{ctrl}, hooks, cfg.APIToken, reg, log.With("component", "api"))
	d.api.SetEvents(func(ctx context.Context, since time.Time, follow bool, fn func(notify.Event) error) error {
		return notify.Follow(ctx, js, notify.FollowOptions{Since: since, Follow: follow}, fn)
	})
	if err := d.startDriftPR(ctx, driftPRSetup{JS: js, Appliers: as, Repos: repos, Forge: fg, Red: red}); err != nil {
		return fail(err)
	}
	// Listen before starting anything that acts, so that an address in use
	// fails the start instead of a daemon running without its API.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", cfg.Listen, err))
	}
	d.httpAddr = ln.Addr().String()
	if err := d.api.RestrictHosts(cfg.ExternalURL, d.httpAddr, cfg.Listen); err != nil {
		_ = ln.Close()
		return fail(err)
	}
	d.goRun("api", func() error { return d.api.ServeListener(ctx, ln) })
	if cfg.Slack != nil {
		sl, err := slack.New(js, slackOptions(cfg, red), m, log)
		if err != nil {
			return fail(err)
		}
		d.goRun("slack", func() error { return sl.Run(ctx) })
	}
	if err := d.startDeployments(ctx, js, fg, red, replicas); err != nil {
		return fail(err)
	}
	d.goRun("reconciler", func() error { return ctrl.Run(ctx) })
	log.Info("driftless started", "version", version, "holder", cfg.Holder(), "listen", d.httpAddr, "repos", len(cfg.Repos), "state_dir", cfg.StateDir)
	return d, nil
}

func (d *daemon) goRun(name string, fn func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("component stopped", "component", name, "error", err)
			select {
			case d.errs <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

// wait blocks until the context given to startDaemon ends or a component
// fails, then shuts everything down.
func (d *daemon) wait() error {
	var err error
	select {
	case <-d.doneCh():
	case err = <-d.errs:
	}
	d.shutdown()
	return err
}

func (d *daemon) doneCh() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(ch)
	}()
	return ch
}

func (d *daemon) shutdown() {
	d.cancel()
	d.wg.Wait()
	if d.nc != nil {
		_ = d.nc.Drain()
		for i := 0; i < 50 && !d.nc.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if d.ns != nil {
		d.ns.Shutdown()
	}
	d.log.Info("driftless stopped")
}

func slackOptions(cfg *config.Config, red *redact.Redactor) slack.Options {
	o := slack.Options{Token: cfg.Slack.Token.Value(), APIURL: cfg.Slack.APIURL, RepoURLs: map[string]string{}, Scrub: red.String}
	for _, r := range cfg.Slack.Routes {
		o.Routes = append(o.Routes, slack.Route{Events: r.Events, Channel: r.Channel})
	}
	for _, r := range cfg.Repos {
		o.RepoURLs[r.Name] = redact.PublicURL(r.URL)
	}
	return o
}
