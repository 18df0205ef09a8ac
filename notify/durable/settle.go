package durable

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one delivered message and what it came through.
type Msg struct {
	raw jetstream.Msg
	// Attempt is the delivery count: 1 the first time.
	Attempt int
	// KV is Config.Bucket as opened by the setup that delivered the
	// message; nil without a bucket.
	KV jetstream.KeyValue
	// Created is when the durable consumer was first created (zero when
	// the server did not say).
	Created time.Time
	// Log is the logger of the kit's lines about this message; a handler
	// may narrow it (event id, repo, app) so those lines say which event.
	Log *slog.Logger
}

// Subject is the message's subject.
func (m *Msg) Subject() string { return m.raw.Subject() }

// Data is the message's payload.
func (m *Msg) Data() []byte { return m.raw.Data() }

// InProgress tells the server the message is still being worked on,
// resetting its AckWait.
func (m *Msg) InProgress() error { return m.raw.InProgress() }

// RetryError asks for the message to be delivered again After.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// DropError asks for the message to be terminated: never delivered again.
type DropError struct{ Err error }

func (e *DropError) Error() string { return e.Err.Error() }
func (e *DropError) Unwrap() error { return e.Err }

// Retry returns err asking for a new delivery after exactly after.
func Retry(err error, after time.Duration) error {
	if err == nil {
		err = errors.New("retry")
	}
	return &RetryError{Err: err, After: after}
}

// Drop returns err asking for the message to be dropped for good.
func Drop(err error) error {
	if err == nil {
		err = errors.New("drop")
	}
	return &DropError{Err: err}
}

// handle runs the handler on msg and settles it by the error returned.
func (c *Consumer) handle(ctx context.Context, s *session, raw jetstream.Msg) {
	m := &Msg{raw: raw, Attempt: 1, KV: s.kv, Created: s.created, Log: c.cfg.Log}
	if md, err := raw.Metadata(); err == nil {
		m.Attempt = int(md.NumDelivered)
	}
	err := c.cfg.Handle(ctx, m)
	var re *RetryError
	var de *DropError
	switch {
	case err == nil:
		c.ack(ctx, m)
	case errors.As(err, &de):
		_ = raw.Term()
	case ctx.Err() != nil:
		_ = raw.Nak() // shutting down: hand it back at once
	case errors.As(err, &re):
		_ = raw.NakWithDelay(re.After)
	default:
		c.retry(m, err)
	}
}

// retry settles a message whose handler failed with a plain error.
func (c *Consumer) retry(m *Msg, err error) {
	p := c.cfg.Retry
	text := c.cfg.Scrub(err.Error())
	switch {
	case p.Permanent != nil && p.Permanent(err):
		m.Log.Error(p.PermanentMsg, c.cfg.ErrKey, text)
		_ = m.raw.Term()
	case p.MaxAttempts > 0 && m.Attempt >= p.MaxAttempts:
		m.Log.Error(p.GiveUpMsg, c.cfg.ErrKey, text, "attempts", m.Attempt)
		_ = m.raw.Term()
	default:
		wait := p.Backoff(m.Attempt)
		m.Log.Warn(p.RetryMsg, c.cfg.ErrKey, text, "attempt", m.Attempt, "retry_in", wait)
		_ = m.raw.NakWithDelay(wait)
	}
}

// ack acknowledges a handled message, waiting for the server's answer
// even when ctx has ended (the work is done; only the ack is left).
func (c *Consumer) ack(ctx context.Context, m *Msg) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := m.raw.DoubleAck(actx); err != nil {
		// The message comes again; handlers make that a no-op.
		m.Log.Warn(c.cfg.Name+": ack failed", c.cfg.ErrKey, c.cfg.Scrub(err.Error()))
	}
}
