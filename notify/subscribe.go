package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FollowOptions select what Follow delivers.
type FollowOptions struct {
	Subjects []string  // default driftless.>
	Since    time.Time // zero: from the start of the stream
	Follow   bool      // false: stop after what the stream holds now
}

// Follow delivers the events of DRIFTLESS_EVENTS to fn, oldest first,
// through an ordered (ephemeral, unacknowledged) consumer. Without
// opts.Follow it returns nil once it has delivered what the stream held when
// it started; with it, it waits for new events until ctx ends (returning
// nil). An error from fn stops it and is returned; so is a message that is
// not an event.
func Follow(ctx context.Context, js jetstream.JetStream, opts FollowOptions, fn func(Event) error) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: opts.Subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if len(cfg.FilterSubjects) == 0 {
		cfg.FilterSubjects = []string{SubjectPrefix + ".>"}
	}
	if !opts.Since.IsZero() {
		t := opts.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &t
	}
	cons, err := js.OrderedConsumer(ctx, Stream, cfg)
	if err != nil {
		return fmt.Errorf("notify: follow %s: %w", Stream, err)
	}
	var pending uint64
	if info := cons.CachedInfo(); info != nil {
		pending = info.NumPending
	}
	if !opts.Follow && pending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("notify: follow %s: %w", Stream, err)
	}
	defer it.Stop()
	var delivered uint64
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				if opts.Follow {
					return nil
				}
				return fmt.Errorf("notify: follow %s: %w", Stream, ctx.Err())
			}
			return fmt.Errorf("notify: follow %s: %w", Stream, err)
		}
		var ev Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			return fmt.Errorf("notify: follow %s: message on %s is not an event: %w", Stream, msg.Subject(), err)
		}
		if err := fn(ev); err != nil {
			return err
		}
		delivered++
		if !opts.Follow {
			if delivered >= pending {
				return nil
			}
			if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
				return nil
			}
		}
	}
}
