package forge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	forgeapi "github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/notify/durable"
)

// DefaultDurable is the default name of the reporter's durable consumer.
const DefaultDurable = "driftless-forge"

// DefaultBucket is the default KV bucket of deployments and handled events.
const DefaultBucket = "DRIFTLESS_FORGE"

const (
	ackWait     = 2 * time.Minute
	callTimeout = 30 * time.Second // one forge call or KV operation
	fetchWait   = time.Second
	keepFor     = 90 * 24 * time.Hour
)

// Options configure a Reporter.
type Options struct {
	// Forge is the API (forge/github's Client). When it also implements
	// forge.DeploymentFinder, deployments missing from the bucket are
	// looked up on the forge before one is created.
	Forge forgeapi.Forge
	// APIURL is the forge's REST API root as configured (github.api_url;
	// empty for github.com): repos whose clone URL is on that host are
	// reported, others ignored.
	APIURL string
	// RepoURLs maps a repo name to its clone URL, for events that carry no
	// repo_url (an interrupted deploy's failure).
	RepoURLs map[string]string
	// ExternalURL is the daemon's external_url; statuses link
	// ExternalURL/apps/REPO/APP. Empty: no links.
	ExternalURL string
	// Durable names the durable consumer (DefaultDurable when empty).
	Durable string
	// Bucket names the KV bucket (DefaultBucket when empty).
	Bucket string
	// KeepFor is how long records are kept (90 days when 0); keep it longer
	// than the stream's MaxAge.
	KeepFor time.Duration
	// Replicas of the KV bucket (default 1).
	Replicas int
	// Backoff is the delay before attempt n (n ≥ 1) after a transient
	// failure. Default: exponential from 1s, capped at 1m.
	Backoff func(attempt int) time.Duration
	// AuthRetry is the wait after the forge refused the token (default 1m).
	AuthRetry time.Duration
	// Scrub removes secrets from texts sent to the forge and errors logged.
	Scrub func(string) string
	// Backfill is how far back, before the durable consumer was first
	// created, events are still reported (default 1h): turning the
	// reporter on does not replay the stream's whole history onto GitHub.
	Backfill time.Duration
}

// Reporter turns deploy and rollback events into forge deployments.
type Reporter struct {
	js        jetstream.JetStream
	opts      Options
	finder    forgeapi.DeploymentFinder // nil when the forge has none
	log       *slog.Logger
	fetchWait time.Duration
}

// New validates opts; Run starts the reporter.
func New(js jetstream.JetStream, opts Options, log *slog.Logger) (*Reporter, error) {
	if js == nil {
		return nil, errors.New("forge reporter: no JetStream context")
	}
	if opts.Forge == nil {
		return nil, errors.New("forge reporter: no forge")
	}
	if opts.Durable == "" {
		opts.Durable = DefaultDurable
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.KeepFor <= 0 {
		opts.KeepFor = keepFor
	}
	if opts.AuthRetry <= 0 {
		opts.AuthRetry = time.Minute
	}
	if opts.Backfill <= 0 {
		opts.Backfill = time.Hour
	}
	if opts.Backoff == nil {
		opts.Backoff = durable.Backoff
	}
	if opts.Scrub == nil {
		opts.Scrub = func(s string) string { return s }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reporter{js: js, opts: opts, log: log, fetchWait: fetchWait}
	r.finder, _ = opts.Forge.(forgeapi.DeploymentFinder)
	return r, nil
}

// Run consumes events until ctx ends, then returns nil. It waits for the
// stream to exist and never gives up on forge or JetStream errors.
func (r *Reporter) Run(ctx context.Context) error {
	return durable.Run(ctx, r.js, durable.Config{
		Name:        "forge reporter",
		Durable:     r.opts.Durable,
		Description: "driftless forge reporter (deployments)",
		Subjects: []string{
			notify.SubjectPrefix + "." + notify.CatDeploy + ".>",
			notify.SubjectPrefix + "." + notify.CatRollback + ".>",
		},
		AckWait: ackWait,
		Bucket: &durable.Bucket{
			Name:        r.opts.Bucket,
			Description: "driftless forge reporter: deployments per deploy, events handled",
			TTL:         r.opts.KeepFor,
			Replicas:    r.opts.Replicas,
		},
		Backoff:   r.opts.Backoff,
		Handle:    r.handle,
		Scrub:     r.opts.Scrub,
		Log:       r.log,
		FetchWait: r.fetchWait,
	})
}

// errNotEvent drops a message that is not a driftless event.
var errNotEvent = errors.New("not a driftless event")

// handle reports one event; its error settles the message: nil (ack) when
// done or nothing to do, Retry when it may work later, Drop when never.
func (r *Reporter) handle(ctx context.Context, m *durable.Msg) error {
	var ev notify.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.ID == "" {
		r.log.Warn("forge reporter: dropping a message that is not a driftless event", "subject", m.Subject())
		return durable.Drop(errNotEvent)
	}
	// Events older than Backfill before the consumer was first created
	// are not reported.
	if !m.Created.IsZero() && ev.Time.Before(m.Created.Add(-r.opts.Backfill)) {
		r.log.Debug("forge reporter: skipping an event older than the reporter", "event_id", ev.ID, "time", ev.Time)
		return nil
	}
	log := r.log.With("event_id", ev.ID, "type", ev.Category()+"."+ev.Action(), "repo", ev.Data.Repo,
		"app", ev.Data.App, "deploy_id", ev.Data.DeployID)
	m.Log = log
	j := &job{r: r, ctx: ctx, ev: ev, store: &store{kv: m.KV}, log: log}
	err := j.run()
	var ae *forgeapi.AuthError
	wait, retry := forgeapi.Retryable(err)
	var kvErr *errTransientKV
	retry = retry || errors.As(err, &kvErr)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		log.Error("forge reporter: the forge refused the token; retrying later", "err", r.opts.Scrub(err.Error()), "retry_in", r.opts.AuthRetry)
		return durable.Retry(err, r.opts.AuthRetry)
	case retry:
		wait = max(wait, r.opts.Backoff(m.Attempt))
		log.Warn("forge reporter: will retry", "err", r.opts.Scrub(err.Error()), "attempt", m.Attempt, "retry_in", wait)
		return durable.Retry(err, wait)
	default:
		log.Error("forge reporter: the forge will not take this event; dropping it", "err", r.opts.Scrub(err.Error()))
		return durable.Drop(err)
	}
}
