package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/wait"
)

// Lease is a key held by Holder until its TTL passes unless renewed. Rev is
// the revision of the lease's last write.
type Lease struct {
	Key, Holder string
	Rev         uint64
}

// HeldError is returned by Acquire when another holder has the lease;
// errors.Is(err, ErrHeld) is true.
type HeldError struct {
	Key, Holder string
	Expires     time.Time // as the holder last wrote it; zero if unknown
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("kv: lease %s held by %q", e.Key, e.Holder)
}

// Unwrap makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Unwrap() error { return ErrHeld }

// leaseValue is what a lease key holds.
type leaseValue struct {
	Holder   string    `json:"holder"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"` // informational: the server's TTL decides
}

// ttlOf rounds a lease TTL up to whole seconds (the server's resolution),
// at least 1 s.
func ttlOf(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return ((d + time.Second - 1) / time.Second) * time.Second
}

// Acquire takes the lease key for holder for ttl. If holder already holds
// it, the lease is renewed and returned. If another holder does, Acquire
// returns a *HeldError (ErrHeld). The bucket must be opened with
// LimitMarkerTTL; the server removes the key when ttl passes unrenewed.
func (b *Bucket) Acquire(ctx context.Context, key, holder string, ttl time.Duration) (*Lease, error) {
	ttl = ttlOf(ttl)
	now := time.Now().UTC()
	val, err := json.Marshal(leaseValue{Holder: holder, Acquired: now, Expires: now.Add(ttl)})
	if err != nil {
		return nil, err
	}
	for attempt := 1; attempt <= 5; attempt++ {
		if attempt > 1 {
			if err := wait.Sleep(ctx, time.Duration(attempt)*20*time.Millisecond); err != nil {
				return nil, fmt.Errorf("kv: acquire %s/%s: %w", b.name, key, err)
			}
		}
		rev, err := b.kv.Create(ctx, key, val, jetstream.KeyTTL(ttl))
		if err == nil {
			return &Lease{Key: key, Holder: holder, Rev: rev}, nil
		}
		// Wrong last sequence without "exists": a concurrent write, or a
		// stale read of a delete marker on a replicated bucket.
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSeq(err) {
			return nil, b.wrap("acquire", key, err)
		}
		var cur leaseValue
		rev, err = b.Get(ctx, key, &cur)
		if errors.Is(err, ErrNotFound) {
			continue // expired or released meanwhile: try again
		}
		if err != nil {
			return nil, fmt.Errorf("kv: acquire %s/%s: %w", b.name, key, err)
		}
		if cur.Holder != holder {
			return nil, &HeldError{Key: key, Holder: cur.Holder, Expires: cur.Expires}
		}
		l := &Lease{Key: key, Holder: holder, Rev: rev}
		if err := b.Renew(ctx, l, ttl); err != nil {
			if errors.Is(err, ErrLost) {
				continue
			}
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("kv: acquire %s/%s: contended, try again: %w", b.name, key, ErrConflict)
}

// Renew extends l by ttl from now. It returns ErrLost when the lease
// expired or was taken since l.Rev; l.Rev is updated on success. A renewal
// whose ack was lost (the write landed, l.Rev is behind) is recognised by
// the holder name and not taken for a loss.
func (b *Bucket) Renew(ctx context.Context, l *Lease, ttl time.Duration) error {
	ttl = ttlOf(ttl)
	now := time.Now().UTC()
	val, err := json.Marshal(leaseValue{Holder: l.Holder, Acquired: now, Expires: now.Add(ttl)})
	if err != nil {
		return err
	}
	for retried := false; ; retried = true {
		// KeyValue.Update cannot set a TTL: publish the revision-checked
		// write to the bucket's subject ourselves.
		ack, err := b.js.Publish(ctx, "$KV."+b.name+"."+l.Key, val,
			jetstream.WithExpectLastSequencePerSubject(l.Rev), jetstream.WithMsgTTL(ttl))
		if err == nil {
			l.Rev = ack.Sequence
			return nil
		}
		if !isWrongLastSeq(err) {
			return fmt.Errorf("kv: renew %s/%s: %w", b.name, l.Key, err)
		}
		if retried || !b.adopt(ctx, l) {
			return fmt.Errorf("kv: renew %s/%s: %w", b.name, l.Key, ErrLost)
		}
	}
}

// adopt moves l.Rev to the key's current revision if the key still names
// l.Holder: an earlier write of ours whose ack never arrived.
func (b *Bucket) adopt(ctx context.Context, l *Lease) bool {
	var cur leaseValue
	rev, err := b.Get(ctx, l.Key, &cur)
	if err != nil || cur.Holder != l.Holder || rev == l.Rev {
		return false
	}
	l.Rev = rev
	return true
}

// Release gives l up at once, if it is still held by l.Holder. Releasing a
// lease that was lost returns ErrLost.
func (b *Bucket) Release(ctx context.Context, l *Lease) error {
	for retried := false; ; retried = true {
		err := b.kv.Delete(ctx, l.Key, jetstream.LastRevision(l.Rev))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("kv: release %s/%s: %w", b.name, l.Key, err)
		}
		if retried || !b.adopt(ctx, l) {
			return fmt.Errorf("kv: release %s/%s: %w", b.name, l.Key, ErrLost)
		}
	}
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
