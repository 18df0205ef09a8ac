package driftpr

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/notify"
)

// DefaultDurable is the name of the drift consumer's durable consumer.
const DefaultDurable = "driftless-drift-pr"

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	// Repos are the repos with drift_pr = true, by name; events of other
	// repos are acknowledged and ignored.
	Repos map[string]Repo
	// Current returns the fingerprint of the app's open drift now ("" when
	// none): an event whose drift has since changed or resolved is
	// skipped. Optional.
	Current func(ctx context.Context, repo, app string) (string, error)
	Durable string        // default DefaultDurable
	Timeout time.Duration // per proposal; default 5m
	// Backoff is the wait before the attempt-th retry of a failed
	// proposal; default 30s doubling up to 10m.
	Backoff func(attempt int) time.Duration
	// MaxAttempts bounds the tries of one event (default 8, about 40
	// minutes with the default backoff): events are handled one at a
	// time, so one that keeps failing must not hold the others forever.
	MaxAttempts int
	Log         *slog.Logger
}

// Consumer proposes every drift.detected event of its repos, through a
// durable JetStream consumer, so that with several replicas each
// detection is handled once. It runs beside the reconciler and never
// blocks a deploy or a scan.
type Consumer struct {
	js  jetstream.JetStream
	p   *Proposer
	opt ConsumerOptions
}

// NewConsumer returns a Consumer.
func NewConsumer(js jetstream.JetStream, p *Proposer, o ConsumerOptions) *Consumer {
	if o.Durable == "" {
		o.Durable = DefaultDurable
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return min(30*time.Second<<min(n-1, 5), 10*time.Minute) }
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Log = o.Log.With("component", "drift-pr")
	return &Consumer{js: js, p: p, opt: o}
}

// Run consumes events until ctx ends, then returns nil. It waits for the
// event stream to exist.
func (c *Consumer) Run(ctx context.Context) error {
	var cons jetstream.Consumer
	for attempt := 1; cons == nil; attempt++ {
		var err error
		cons, err = c.js.CreateOrUpdateConsumer(ctx, notify.Stream, jetstream.ConsumerConfig{
			Durable:       c.opt.Durable,
			Description:   "driftless: drifts proposed back as pull requests",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       c.opt.Timeout + time.Minute,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxDeliver:    -1,
			MaxAckPending: 1, // one proposal at a time across replicas: a reminder finds the ledger written
			FilterSubject: notify.SubjectPrefix + "." + notify.CatDrift + "." + notify.ActDetected + ".>",
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.opt.Log.Warn("drift pull requests: waiting for JetStream", "error", c.p.opt.Scrub(err.Error()), "attempt", attempt)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.opt.Backoff(attempt)):
			}
		}
	}
	c.opt.Log.Info("drift pull requests started", "durable", c.opt.Durable, "repos", len(c.opt.Repos))
	for ctx.Err() == nil {
		// One message per pull, and a pull that ends by itself within a
		// second: shutdown waits at most that long.
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				c.opt.Log.Warn("drift pull requests: fetch failed", "error", c.p.opt.Scrub(err.Error()))
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				_ = msg.Nak()
				continue
			}
			c.handle(ctx, msg)
		}
	}
	return nil
}

// handle proposes one event and settles it: ack when done or nothing to
// do, term when it can never work, a delayed nak otherwise.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	var ev notify.Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.Data.Repo == "" || ev.Data.App == "" {
		_ = msg.Term()
		return
	}
	log := c.opt.Log.With("event_id", ev.ID, "repo", ev.Data.Repo, "app", ev.Data.App)
	repo, ok := c.opt.Repos[ev.Data.Repo]
	fp := ev.Data.Extra["fingerprint"]
	if !ok || fp == "" || len(ev.Data.Drift) == 0 {
		_ = msg.Ack()
		return
	}
	pctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	if c.opt.Current != nil {
		now, err := c.opt.Current(pctx, ev.Data.Repo, ev.Data.App)
		if err == nil && now != fp {
			log.Info("drift pull request skipped: the drift changed or resolved since", "fingerprint", fp, "current", now)
			_ = msg.Ack()
			return
		}
	}
	d := Drift{App: ev.Data.App, Revision: ev.Data.Revision, Fingerprint: fp, FirstSeen: ev.Time}
	if ev.Data.FirstSeen != nil {
		d.FirstSeen = *ev.Data.FirstSeen
	}
	for _, it := range ev.Data.Drift {
		d.Items = append(d.Items, appliers.DriftItem{Address: it.Address, Attributes: it.Attributes, Action: it.Action})
	}
	res, err := c.p.Propose(pctx, repo, d)
	switch {
	case err == nil:
		log.Info("drift proposed", "action", res.Action, "number", res.Ref.Number, "url", res.Ref.URL, "commit", res.Commit)
		_ = msg.Ack()
	case ctx.Err() != nil:
		_ = msg.Nak()
	case errors.Is(err, ErrNoDrift) || errors.Is(err, ErrNoApp) || errors.Is(err, ErrNoBlock):
		log.Error("drift pull request impossible", "error", err.Error())
		_ = msg.Term()
	default:
		attempt := 1
		if md, merr := msg.Metadata(); merr == nil {
			attempt = int(md.NumDelivered)
		}
		if attempt >= c.opt.MaxAttempts {
			log.Error("drift pull request failed; giving up on this event", "error", err.Error(), "attempts", attempt)
			_ = msg.Term()
			return
		}
		log.Warn("drift pull request failed; retrying", "error", err.Error(), "attempt", attempt)
		_ = msg.NakWithDelay(c.opt.Backoff(attempt))
	}
}
