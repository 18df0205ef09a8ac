package durable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/wait"
	"github.com/driftless/driftless/notify"
)

// DefaultFetchWait bounds one pull request: the longest a shutdown waits.
const DefaultFetchWait = time.Second

// ackTimeout bounds the double ack of a handled message.
const ackTimeout = 10 * time.Second

// Config describes one durable consumer of notify.Stream.
type Config struct {
	// Name starts the kit's log lines ("slack notifier"). Required.
	Name string
	// Durable is the durable consumer's name, shared by replicas. Required.
	Durable string
	// Description of the consumer, shown by `nats consumer info`.
	Description string
	// Subjects filter the stream (at least one).
	Subjects []string
	// AckWait is how long a delivered message may stay unacknowledged
	// before the server delivers it again. Required.
	AckWait time.Duration
	// Bucket, when set, is created or updated before the consumer at each
	// setup; handlers find it in Msg.KV.
	Bucket *Bucket
	// Backoff is the wait before setup attempt n+1 after n failed (waiting
	// for JetStream). Default: Backoff.
	Backoff func(attempt int) time.Duration
	// FetchBackoff is the wait after the n-th failed pull in a row.
	// Default: the same as Backoff.
	FetchBackoff func(failures int) time.Duration
	// Retry settles the messages whose handler failed with an error that
	// is none of Retry, Drop or the end of Run's context.
	Retry Policy
	// Handle handles one message. Required.
	Handle Handler
	// Scrub removes secrets from errors logged (identity when nil).
	Scrub func(string) string
	// ErrKey is the log key of errors ("err" when empty).
	ErrKey string
	// StartAttrs are added to the "<Name> started" line.
	StartAttrs []any
	// Log receives the kit's lines (discarded when nil).
	Log *slog.Logger
	// FetchWait bounds one pull (DefaultFetchWait when 0).
	FetchWait time.Duration
}

// Bucket is a consumer's KV bucket of records (what it did per event,
// for exactly-once handling across redeliveries and replays): one value
// per key, kept TTL.
type Bucket struct {
	Name        string
	Description string
	TTL         time.Duration // 0: kept forever
	Replicas    int           // default 1; match the stream's in a cluster
}

// Policy decides what becomes of a message whose handler failed with a
// plain error.
type Policy struct {
	// Permanent reports errors no retry can fix: the message is dropped.
	Permanent func(error) bool
	// MaxAttempts drops a message once that many deliveries failed
	// (0: retried forever).
	MaxAttempts int
	// Backoff is the wait before the next delivery after the attempt-th
	// failed. Default: Config.Backoff.
	Backoff func(attempt int) time.Duration
	// The messages of the policy's log lines, for a consumer that words
	// them its own way. Defaults: "<Name>: will retry" (warning; the error,
	// attempt, retry_in), "<Name>: giving up on this event" (error; the
	// error, attempts) and "<Name>: this event cannot succeed; dropping
	// it" (error; the error).
	RetryMsg, GiveUpMsg, PermanentMsg string
}

// Handler handles one message; its error settles it (see the package
// documentation). ctx is Run's.
type Handler func(ctx context.Context, m *Msg) error

// Consumer is one durable consumer of notify.Stream; Run starts it.
type Consumer struct {
	js  jetstream.JetStream
	cfg Config
}

// New checks cfg and fills its defaults. Its errors start with cfg.Name.
func New(js jetstream.JetStream, cfg Config) (*Consumer, error) {
	if cfg.Name == "" {
		return nil, errors.New("durable consumer: no Name")
	}
	switch {
	case js == nil:
		return nil, fmt.Errorf("%s: no JetStream context", cfg.Name)
	case cfg.Durable == "":
		return nil, fmt.Errorf("%s: no durable name", cfg.Name)
	case len(cfg.Subjects) == 0:
		return nil, fmt.Errorf("%s: durable %s: no filter subject", cfg.Name, cfg.Durable)
	case cfg.AckWait <= 0:
		return nil, fmt.Errorf("%s: durable %s: no AckWait", cfg.Name, cfg.Durable)
	case cfg.Handle == nil:
		return nil, fmt.Errorf("%s: durable %s: no handler", cfg.Name, cfg.Durable)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.FetchBackoff == nil {
		cfg.FetchBackoff = cfg.Backoff
	}
	if cfg.Retry.Backoff == nil {
		cfg.Retry.Backoff = cfg.Backoff
	}
	if cfg.Retry.RetryMsg == "" {
		cfg.Retry.RetryMsg = cfg.Name + ": will retry"
	}
	if cfg.Retry.GiveUpMsg == "" {
		cfg.Retry.GiveUpMsg = cfg.Name + ": giving up on this event"
	}
	if cfg.Retry.PermanentMsg == "" {
		cfg.Retry.PermanentMsg = cfg.Name + ": this event cannot succeed; dropping it"
	}
	if cfg.Scrub == nil {
		cfg.Scrub = func(s string) string { return s }
	}
	if cfg.ErrKey == "" {
		cfg.ErrKey = "err"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FetchWait <= 0 {
		cfg.FetchWait = DefaultFetchWait
	}
	return &Consumer{js: js, cfg: cfg}, nil
}

// Run is New followed by Consumer.Run: it returns New's error, or nil
// once ctx ended.
func Run(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	c, err := New(js, cfg)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// Backoff is the default wait before attempt n+1: 1s doubling up to 1m.
func Backoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// session is what one setup opened.
type session struct {
	cons    jetstream.Consumer
	kv      jetstream.KeyValue
	created time.Time
}

// Run sets the consumer up, waiting for JetStream, and handles messages
// one at a time until ctx ends; it then returns nil after settling the
// message in hand. Pull and JetStream failures are retried forever.
func (c *Consumer) Run(ctx context.Context) error {
	s, err := c.setup(ctx)
	if err != nil {
		return nil // ctx ended
	}
	c.cfg.Log.Info(c.cfg.Name+" started", append([]any{"durable", c.cfg.Durable}, c.cfg.StartAttrs...)...)
	failures := 0
	for ctx.Err() == nil {
		// One message per pull, and a pull that is never abandoned: it ends
		// by itself after FetchWait, so no message is ever delivered to a
		// client that stopped listening (it would sit unacknowledged until
		// AckWait).
		batch, err := s.cons.Fetch(1, jetstream.FetchMaxWait(c.cfg.FetchWait))
		if err == nil {
			for msg := range batch.Messages() {
				if ctx.Err() != nil {
					_ = msg.Nak() // hand it back at once
					continue
				}
				c.handle(ctx, s, msg)
			}
			err = batch.Error()
		}
		if err == nil || ctx.Err() != nil {
			failures = 0
			continue
		}
		failures++
		c.cfg.Log.Warn(c.cfg.Name+": fetch failed", c.cfg.ErrKey, c.cfg.Scrub(err.Error()), "attempt", failures)
		if gone(err) {
			// The consumer or the stream was deleted under us (a pull to a
			// missing consumer has no responders): set up again.
			if s, err = c.setup(ctx); err != nil {
				break
			}
			continue
		}
		_ = wait.Sleep(ctx, c.cfg.FetchBackoff(failures))
	}
	c.cfg.Log.Info(c.cfg.Name + " stopped")
	return nil
}

func gone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders)
}

// setup opens the bucket and the consumer, retrying until ctx ends (the
// stream may not exist yet when the consumer starts first).
func (c *Consumer) setup(ctx context.Context) (*session, error) {
	for attempt := 1; ; attempt++ {
		s, err := c.trySetup(ctx)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.cfg.Log.Warn(c.cfg.Name+": waiting for JetStream", c.cfg.ErrKey, c.cfg.Scrub(err.Error()), "attempt", attempt)
		if err := wait.Sleep(ctx, c.cfg.Backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

func (c *Consumer) trySetup(ctx context.Context) (*session, error) {
	s := &session{}
	if b := c.cfg.Bucket; b != nil {
		kv, err := c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      b.Name,
			Description: b.Description,
			History:     1,
			TTL:         b.TTL,
			Replicas:    max(b.Replicas, 1),
		})
		if err != nil {
			return nil, fmt.Errorf("open KV bucket %s: %w", b.Name, err)
		}
		s.kv = kv
	}
	cc := jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		Description:   c.cfg.Description,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		MaxAckPending: 1, // one event at a time, in order, across replicas
	}
	if len(c.cfg.Subjects) == 1 {
		cc.FilterSubject = c.cfg.Subjects[0]
	} else {
		cc.FilterSubjects = c.cfg.Subjects
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, notify.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", c.cfg.Durable, notify.Stream, err)
	}
	s.cons = cons
	if info := cons.CachedInfo(); info != nil {
		s.created = info.Created
	}
	return s, nil
}
