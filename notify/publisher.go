package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/internal/metrics"
)

// StreamConfig sizes the DRIFTLESS_EVENTS stream.
type StreamConfig struct {
	Replicas int           // default 1
	MaxAge   time.Duration // default 30 days
	// Duplicates is the window in which a message id is stored only once;
	// default 10 minutes, at least 2 minutes.
	Duplicates time.Duration
}

// Defaults for StreamConfig.
const (
	DefaultMaxAge     = 30 * 24 * time.Hour
	DefaultDuplicates = 10 * time.Minute
	minDuplicates     = 2 * time.Minute
)

// EnsureStream creates the stream DRIFTLESS_EVENTS (subjects driftless.>,
// file storage) or updates it to cfg. It is idempotent.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Duplicates <= 0 {
		cfg.Duplicates = DefaultDuplicates
	}
	cfg.Duplicates = min(max(cfg.Duplicates, minDuplicates), cfg.MaxAge)
	var s jetstream.Stream
	err := kv.Retry(ctx, func(ctx context.Context) (err error) {
		s, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        Stream,
			Description: "driftless events (CloudEvents JSON)",
			Subjects:    []string{SubjectPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Replicas:    cfg.Replicas,
			MaxAge:      cfg.MaxAge,
			Duplicates:  cfg.Duplicates,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notify: ensure stream %s: %w", Stream, err)
	}
	return s, nil
}

// Publisher publishes events to JetStream. With an outbox (WithOutbox), an
// event that cannot be published promptly is queued on disk and published
// later, in order, by Run.
type Publisher struct {
	js          jetstream.JetStream
	instance    string
	log         *slog.Logger
	m           *metrics.Metrics
	emitTimeout time.Duration
	attemptTO   time.Duration

	// sem serializes Emit's direct publish with its outbox check, so that
	// once an event is queued every later one queues behind it.
	sem  chan struct{}
	ob   *outbox
	wake chan struct{}
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithOutbox queues events that cannot be published within the emit
// timeout in dir, keeping at most maxBytes (DefaultOutboxBytes if ≤ 0; the
// oldest are dropped, with an error log and a metric, beyond that). Run
// must be running to drain it. Events left there by an earlier process are
// published too.
func WithOutbox(dir string, maxBytes int64) PublisherOption {
	return func(p *Publisher) { p.ob = newOutbox(dir, maxBytes) }
}

// WithEmitTimeout sets how long Emit tries to publish before it queues the
// event in the outbox (default 2 s). Without an outbox it is unused.
func WithEmitTimeout(d time.Duration) PublisherOption {
	return func(p *Publisher) {
		if d > 0 {
			p.emitTimeout = d
		}
	}
}

// NewPublisher returns a publisher for events of the controller replica
// instance. m may be nil.
func NewPublisher(js jetstream.JetStream, instance string, log *slog.Logger, m *metrics.Metrics, opts ...PublisherOption) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{
		js:          js,
		instance:    instance,
		log:         log.With("component", "events"),
		m:           m,
		emitTimeout: 2 * time.Second,
		attemptTO:   5 * time.Second,
		sem:         make(chan struct{}, 1),
		wake:        make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(p)
	}
	if p.ob != nil {
		if n := p.ob.len(); n > 0 {
			p.log.Info("events waiting in the outbox from an earlier run", "count", n, "dir", p.ob.dir)
		}
		p.gauge()
	}
	return p
}

// Instance names the controller replica (CloudEvents source driftless/<instance>).
func (p *Publisher) Instance() string { return p.instance }

// Publish publishes ev as JSON on ev.NATSSubject() with Nats-Msg-Id ev.ID,
// retrying with exponential backoff (100 ms, doubling, capped at 5 s) until
// it is stored or ctx ends. The first failure is logged once.
func (p *Publisher) Publish(ctx context.Context, ev Event) error {
	log := p.evLog(ev)
	for attempt := 1; ; attempt++ {
		err := p.publishOnce(ctx, ev)
		if err == nil {
			if attempt > 1 {
				log.Info("event published after retries", "attempts", attempt)
			}
			return nil
		}
		if attempt == 1 {
			log.Warn("event publish failed, retrying", "error", err)
		} else {
			log.Debug("event publish failed again", "attempt", attempt, "error", err)
		}
		if permanent(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("notify: publish %s (%d attempts): %w (last error: %w)", ev.ID, attempt, ctx.Err(), err)
		case <-time.After(pubBackoff(attempt)):
		}
	}
}

// publishOnce makes one attempt. It fails at once while the connection is
// down, so nothing is buffered by the client to be sent later behind the
// outbox's back.
func (p *Publisher) publishOnce(ctx context.Context, ev Event) error {
	if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
		p.countFail()
		return fmt.Errorf("notify: publish %s: %w", ev.ID, ErrNotConnected)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("notify: encode event %s: %w", ev.ID, errPermanent{err})
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.attemptTO)
		defer cancel()
	}
	msg := &nats.Msg{Subject: ev.NATSSubject(), Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		p.countFail()
		if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadSubject) {
			err = errPermanent{err}
		}
		return fmt.Errorf("notify: publish %s on %s: %w", ev.ID, msg.Subject, err)
	}
	if p.m != nil {
		p.m.EventsPublished.WithLabelValues(ev.Category()).Inc()
	}
	return nil
}

// ErrNotConnected is returned for a publish attempted while the NATS
// connection is down (reconnecting).
var ErrNotConnected = errors.New("not connected to NATS")

// errPermanent marks an error that no retry can fix (an event too large).
type errPermanent struct{ error }

func (e errPermanent) Unwrap() error { return e.error }

func permanent(err error) bool { return errors.As(err, new(errPermanent)) }

// Emit builds the event category.action from d (with New), publishes it
// and returns it. It never blocks longer than ctx allows: without an outbox
// it retries until ctx ends and logs a failure; with one it tries for the
// emit timeout, then queues the event on disk for Run to publish in order.
func (p *Publisher) Emit(ctx context.Context, category, action string, d Data) Event {
	ev := New(p.instance, category, action, d)
	log := p.evLog(ev)
	if p.ob == nil {
		if err := p.Publish(ctx, ev); err != nil {
			log.Error("event not published", "error", err)
		}
		return ev
	}
	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
		if p.ob.len() == 0 {
			pctx, cancel := context.WithTimeout(ctx, p.emitTimeout)
			err := p.publishOnceOrRetry(pctx, ev)
			cancel()
			if err == nil {
				return ev
			}
			if permanent(err) {
				log.Error("event not published", "error", err)
				return ev
			}
			log.Warn("event publish failed, queued in the outbox", "error", err)
		}
	case <-ctx.Done():
		// Another Emit is publishing; queue behind it rather than wait.
	}
	p.enqueue(ev, log)
	return ev
}

// publishOnceOrRetry is Publish without its logging: Emit logs the outcome.
func (p *Publisher) publishOnceOrRetry(ctx context.Context, ev Event) error {
	for attempt := 1; ; attempt++ {
		err := p.publishOnce(ctx, ev)
		if err == nil || permanent(err) {
			return err
		}
		if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
			return err // down: no point waiting, queue it now
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pubBackoff(attempt)):
		}
	}
}

func (p *Publisher) enqueue(ev Event, log *slog.Logger) {
	dropped, err := p.ob.append(ev)
	if err != nil {
		log.Error("event lost: cannot write the outbox", "error", err)
		p.countDropped(1)
		return
	}
	for _, d := range dropped {
		p.log.Error("event dropped: outbox over its size bound", "event_id", d.ID, "type", d.Type, "max_bytes", p.ob.maxBytes)
	}
	p.countDropped(len(dropped))
	p.gauge()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run drains the outbox, in order, whenever NATS is reachable, until ctx
// ends. Without an outbox it just waits for ctx. It returns nil on ctx end.
func (p *Publisher) Run(ctx context.Context) error {
	if p.ob == nil {
		<-ctx.Done()
		return nil
	}
	failures := 0
	for {
		var wait time.Duration
		err := p.drain(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			if failures == 1 {
				p.log.Warn("outbox: publish failed; will retry", "waiting", p.ob.len(), "error", err)
			}
			wait = pubBackoff(failures)
		default:
			if failures > 0 {
				p.log.Info("outbox drained", "after_failures", failures)
			}
			failures = 0
			wait = 5 * time.Second // a safety net; enqueue wakes us
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-time.After(wait):
		}
	}
}

// drain publishes queued events oldest first until the outbox is empty or
// a publish fails.
func (p *Publisher) drain(ctx context.Context) error {
	for {
		seq, ev, ok, err := p.ob.head()
		if !ok {
			return err
		}
		if err != nil {
			p.log.Error("event dropped: unreadable outbox entry", "seq", seq, "error", err)
			p.ob.remove(seq)
			p.countDropped(1)
			p.gauge()
			continue
		}
		actx, cancel := context.WithTimeout(ctx, p.attemptTO)
		err = p.publishOnce(actx, ev)
		cancel()
		if err != nil && !permanent(err) {
			return err
		}
		if err != nil {
			p.evLog(ev).Error("event dropped: cannot be published", "error", err)
			p.countDropped(1)
		}
		p.ob.remove(seq)
		p.gauge()
	}
}

func (p *Publisher) evLog(ev Event) *slog.Logger {
	return p.log.With("event_id", ev.ID, "type", ev.Type, "repo", ev.Data.Repo, "app", ev.Data.App)
}

func (p *Publisher) countFail() {
	if p.m != nil {
		p.m.EventPublishFails.Inc()
	}
}

func (p *Publisher) countDropped(n int) {
	if p.m != nil && n > 0 {
		p.m.EventsDropped.Add(float64(n))
	}
}

func (p *Publisher) gauge() {
	if p.m != nil && p.ob != nil {
		p.m.EventOutbox.Set(float64(p.ob.len()))
	}
}

// pubBackoff is 100 ms doubling per attempt, capped at 5 s.
func pubBackoff(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}
