package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	forgeapi "github.com/driftless/driftless/forge"
	"github.com/driftless/driftless/notify"
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
		opts.Backoff = defaultBackoff
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

func defaultBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run consumes events until ctx ends, then returns nil. It waits for the
// stream to exist and never gives up on forge or JetStream errors.
func (r *Reporter) Run(ctx context.Context) error {
	st, err := r.setup(ctx)
	if err != nil {
		return nil // ctx ended
	}
	r.log.Info("forge reporter started", "durable", r.opts.Durable)
	failures := 0
	for ctx.Err() == nil {
		batch, err := st.cons.Fetch(1, jetstream.FetchMaxWait(r.fetchWait))
		if err == nil {
			for msg := range batch.Messages() {
				if ctx.Err() != nil {
					_ = msg.Nak()
					continue
				}
				r.handle(ctx, st, msg)
			}
			err = batch.Error()
		}
		if err == nil || ctx.Err() != nil {
			failures = 0
			continue
		}
		failures++
		r.log.Warn("forge reporter: fetch failed", "err", r.opts.Scrub(err.Error()), "attempt", failures)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
			errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
			if st, err = r.setup(ctx); err != nil {
				break
			}
			continue
		}
		_ = sleepCtx(ctx, r.opts.Backoff(failures))
	}
	r.log.Info("forge reporter stopped")
	return nil
}

type consumerState struct {
	cons  jetstream.Consumer
	store *store
	since time.Time // events older than this are not reported
}

// setup opens the bucket and the durable consumer, retrying until ctx ends.
func (r *Reporter) setup(ctx context.Context) (*consumerState, error) {
	for attempt := 1; ; attempt++ {
		st, err := r.trySetup(ctx)
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.log.Warn("forge reporter: waiting for JetStream", "err", r.opts.Scrub(err.Error()), "attempt", attempt)
		if err := sleepCtx(ctx, r.opts.Backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

func (r *Reporter) trySetup(ctx context.Context) (*consumerState, error) {
	kv, err := r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      r.opts.Bucket,
		Description: "driftless forge reporter: deployments per deploy, events handled",
		History:     1,
		TTL:         r.opts.KeepFor,
		Replicas:    max(r.opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", r.opts.Bucket, err)
	}
	cons, err := r.js.CreateOrUpdateConsumer(ctx, notify.Stream, jetstream.ConsumerConfig{
		Durable:       r.opts.Durable,
		Description:   "driftless forge reporter (deployments)",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		MaxAckPending: 1, // one event at a time, in order, across replicas
		FilterSubjects: []string{
			notify.SubjectPrefix + "." + notify.CatDeploy + ".>",
			notify.SubjectPrefix + "." + notify.CatRollback + ".>",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", r.opts.Durable, notify.Stream, err)
	}
	st := &consumerState{cons: cons, store: &store{kv: kv}}
	if info := cons.CachedInfo(); info != nil && !info.Created.IsZero() {
		st.since = info.Created.Add(-r.opts.Backfill)
	}
	return st, nil
}

// handle reports one event and settles its message: ack when done (or
// nothing to do), NakWithDelay when it may work later, Term when never.
func (r *Reporter) handle(ctx context.Context, st *consumerState, msg jetstream.Msg) {
	var ev notify.Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.ID == "" {
		r.log.Warn("forge reporter: dropping a message that is not a driftless event", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	if ev.Time.Before(st.since) {
		r.log.Debug("forge reporter: skipping an event older than the reporter", "event_id", ev.ID, "time", ev.Time)
		r.ack(ctx, msg, r.log)
		return
	}
	log := r.log.With("event_id", ev.ID, "type", ev.Category()+"."+ev.Action(), "repo", ev.Data.Repo,
		"app", ev.Data.App, "deploy_id", ev.Data.DeployID)
	j := &job{r: r, ctx: ctx, ev: ev, store: st.store, log: log}
	err := j.run()
	var ae *forgeapi.AuthError
	wait, retry := forgeapi.Retryable(err)
	var kvErr *errTransientKV
	retry = retry || errors.As(err, &kvErr)
	switch {
	case err == nil:
		r.ack(ctx, msg, log)
	case errors.As(err, &ae):
		log.Error("forge reporter: the forge refused the token; retrying later", "err", r.opts.Scrub(err.Error()), "retry_in", r.opts.AuthRetry)
		_ = msg.NakWithDelay(r.opts.AuthRetry)
	case retry:
		attempt := 1
		if md, err := msg.Metadata(); err == nil {
			attempt = int(md.NumDelivered)
		}
		wait = max(wait, r.opts.Backoff(attempt))
		log.Warn("forge reporter: will retry", "err", r.opts.Scrub(err.Error()), "attempt", attempt, "retry_in", wait)
		_ = msg.NakWithDelay(wait)
	default:
		log.Error("forge reporter: the forge will not take this event; dropping it", "err", r.opts.Scrub(err.Error()))
		_ = msg.Term()
	}
}

func (r *Reporter) ack(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("forge reporter: ack failed", "err", r.opts.Scrub(err.Error()))
	}
}
