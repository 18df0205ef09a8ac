package kv

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrWatchStopped is returned by Watch when the watch ends before its ctx:
// the connection was closed. The caller may watch again.
var ErrWatchStopped = errors.New("kv: watch stopped")

// Watch calls fn with the key, value and revision of each put to the
// bucket made after the watch started, by any writer, in the order they
// were written, until ctx ends (nil) or the watch stops. Deletes are not
// reported. fn runs on Watch's goroutine and must return quickly: it holds
// up the updates that follow. The JetStream ordered consumer behind the
// watch notices a lost message and starts again from it, so that no write
// is skipped while the connection holds.
func (b *Bucket) Watch(ctx context.Context, fn func(key string, value []byte, rev uint64)) error {
	w, err := b.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return b.wrap("watch", "", err)
	}
	updates := w.Updates()
	defer func() {
		_ = w.Stop()
		// The consumer's callback blocks while the channel is full: drain
		// it until the stopped subscription closes it.
		go func() {
			for range updates {
			}
		}()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-updates:
			if !ok {
				return b.wrap("watch", "", ErrWatchStopped)
			}
			if e != nil {
				fn(e.Key(), e.Value(), e.Revision())
			}
		}
	}
}
