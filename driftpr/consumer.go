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
	"github.com/driftless/driftless/notify/durable"
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
	return durable.Run(ctx, c.js, durable.Config{
		Name:        "drift pull requests",
		Durable:     c.opt.Durable,
		Description: "driftless: drifts proposed back as pull requests",
		Subjects:    []string{notify.SubjectPrefix + "." + notify.CatDrift + "." + notify.ActDetected + ".>"},
		// One proposal at a time across replicas (the kit's MaxAckPending
		// 1): a reminder finds the ledger written.
		AckWait:      c.opt.Timeout + time.Minute,
		Backoff:      c.opt.Backoff,
		FetchBackoff: func(int) time.Duration { return time.Second },
		Retry: durable.Policy{
			Permanent: func(err error) bool {
				return errors.Is(err, ErrNoDrift) || errors.Is(err, ErrNoApp) || errors.Is(err, ErrNoBlock)
			},
			MaxAttempts:  c.opt.MaxAttempts,
			Backoff:      c.opt.Backoff,
			RetryMsg:     "drift pull request failed; retrying",
			GiveUpMsg:    "drift pull request failed; giving up on this event",
			PermanentMsg: "drift pull request impossible",
		},
		Handle:     c.handle,
		Scrub:      c.p.opt.Scrub,
		ErrKey:     "error",
		StartAttrs: []any{"repos", len(c.opt.Repos)},
		Log:        c.opt.Log,
	})
}

// errNotDrift drops a message that is not a drift event of an app.
var errNotDrift = errors.New("not a drift.detected event of an app")

// handle proposes one event; its error settles it: nil (ack) when done or
// nothing to do; the proposal's error otherwise, which the kit's policy
// drops when it can never work and retries with back-off (MaxAttempts
// times at most) when it may.
func (c *Consumer) handle(ctx context.Context, m *durable.Msg) error {
	var ev notify.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.Data.Repo == "" || ev.Data.App == "" {
		return durable.Drop(errNotDrift)
	}
	log := c.opt.Log.With("event_id", ev.ID, "repo", ev.Data.Repo, "app", ev.Data.App)
	m.Log = log
	repo, ok := c.opt.Repos[ev.Data.Repo]
	fp := ev.Data.Extra["fingerprint"]
	if !ok || fp == "" || len(ev.Data.Drift) == 0 {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	if c.opt.Current != nil {
		now, err := c.opt.Current(pctx, ev.Data.Repo, ev.Data.App)
		if err == nil && now != fp {
			log.Info("drift pull request skipped: the drift changed or resolved since", "fingerprint", fp, "current", now)
			return nil
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
	if err != nil {
		return err
	}
	log.Info("drift proposed", "action", res.Action, "number", res.Ref.Number, "url", res.Ref.URL, "commit", res.Commit)
	return nil
}
