package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/wait"
)

// Errors returned by Bucket methods; test with errors.Is.
var (
	ErrNotFound = errors.New("kv: key not found")
	ErrConflict = errors.New("kv: revision conflict")
	ErrExists   = errors.New("kv: key exists")
	ErrHeld     = errors.New("kv: lease held by another holder")
	ErrLost     = errors.New("kv: lease lost")
)

// Options configure a bucket when it is created or updated.
type Options struct {
	Replicas int           // default 1
	History  int           // revisions kept per key; default 1, max 64
	TTL      time.Duration // bucket-wide max age of a value; 0: none
	// LimitMarkerTTL enables per-key TTLs (needed by Acquire): expiries
	// leave a delete marker that is itself kept for a minute.
	LimitMarkerTTL bool
}

// markerTTL is how long the delete marker of an expired key is kept.
const markerTTL = time.Minute

// Bucket is a JetStream KV bucket holding JSON values.
type Bucket struct {
	kv   jetstream.KeyValue
	js   jetstream.JetStream
	name string
}

// Open creates the bucket name or opens it, updating its configuration to
// opts.
func Open(ctx context.Context, js jetstream.JetStream, name string, opts Options) (*Bucket, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket:   name,
		History:  uint8(max(opts.History, 1)),
		TTL:      opts.TTL,
		Storage:  jetstream.FileStorage,
		Replicas: max(opts.Replicas, 1),
	}
	if opts.History > 64 {
		return nil, fmt.Errorf("kv: open %s: history %d > 64", name, opts.History)
	}
	if opts.LimitMarkerTTL {
		cfg.LimitMarkerTTL = markerTTL
	}
	var kv jetstream.KeyValue
	err := Retry(ctx, func(ctx context.Context) (err error) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", name, err)
	}
	return &Bucket{kv: kv, js: js, name: name}, nil
}

// Retry runs fn, each attempt with its own 10 s timeout, until it succeeds,
// ctx ends or a minute has passed. Creating replicated streams and buckets
// on a cluster that is still forming, or that several replicas start on at
// once, can time out and succeed on the next attempt.
func Retry(ctx context.Context, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(actx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		if err := wait.Sleep(ctx, time.Duration(min(attempt, 10))*200*time.Millisecond); err != nil {
			return err
		}
	}
}

// Name is the bucket name.
func (b *Bucket) Name() string { return b.name }

// Get decodes the value at key into v and returns its revision.
// It returns ErrNotFound when the key is missing or deleted.
func (b *Bucket) Get(ctx context.Context, key string, v any) (rev uint64, err error) {
	e, err := b.kv.Get(ctx, key)
	if err != nil {
		return 0, b.wrap("get", key, err)
	}
	if v != nil {
		if err := json.Unmarshal(e.Value(), v); err != nil {
			return 0, fmt.Errorf("kv: get %s/%s: decode: %w", b.name, key, err)
		}
	}
	return e.Revision(), nil
}

// LastRevision is the bucket's newest revision: every write of any key
// (a put, an update, a delete), by any writer, raises it by exactly one.
func (b *Bucket) LastRevision(ctx context.Context) (uint64, error) {
	st, err := b.kv.Status(ctx)
	if err != nil {
		return 0, b.wrap("status", "", err)
	}
	s, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, fmt.Errorf("kv: status of %s: unexpected %T", b.name, st)
	}
	return s.StreamInfo().State.LastSeq, nil
}

// getRaw returns the raw value and revision; exists is false when missing
// or deleted.
func (b *Bucket) getRaw(ctx context.Context, key string) ([]byte, uint64, bool, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, b.wrap("get", key, err)
	}
	return e.Value(), e.Revision(), true, nil
}

// Put stores v at key whatever is there and returns the new revision.
func (b *Bucket) Put(ctx context.Context, key string, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("kv: put %s/%s: encode: %w", b.name, key, err)
	}
	rev, err := b.kv.Put(ctx, key, data)
	if err != nil {
		return 0, b.wrap("put", key, err)
	}
	return rev, nil
}

// Update stores v at key only if the key's revision is still rev; otherwise
// it returns ErrConflict.
func (b *Bucket) Update(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("kv: update %s/%s: encode: %w", b.name, key, err)
	}
	n, err := b.kv.Update(ctx, key, data, rev)
	if err != nil {
		return 0, b.wrap("update", key, err)
	}
	return n, nil
}

// Create stores v at key only if the key is missing (or deleted); otherwise
// it returns ErrExists.
func (b *Bucket) Create(ctx context.Context, key string, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("kv: create %s/%s: encode: %w", b.name, key, err)
	}
	for attempt := 1; ; attempt++ {
		n, err := b.kv.Create(ctx, key, data)
		if err == nil {
			return n, nil
		}
		// Creating over a delete marker reads the marker's revision first;
		// on a replicated bucket that read may be stale (direct get from a
		// follower), which fails as "wrong last sequence": read again.
		if attempt < 3 && !errors.Is(err, jetstream.ErrKeyExists) && isWrongLastSeq(err) {
			if err := wait.Sleep(ctx, time.Duration(attempt)*20*time.Millisecond); err != nil {
				return 0, fmt.Errorf("kv: create %s/%s: %w", b.name, key, err)
			}
			continue
		}
		return 0, b.wrapCreate(key, err)
	}
}

// Delete marks key deleted. Deleting a missing key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.kv.Delete(ctx, key); err != nil {
		return b.wrap("delete", key, err)
	}
	return nil
}

// Keys lists the keys that start with prefix, sorted. An empty bucket gives
// an empty list and no error.
func (b *Bucket) Keys(ctx context.Context, prefix string) ([]string, error) {
	var (
		l   jetstream.KeyLister
		err error
	)
	if prefix != "" && strings.HasSuffix(prefix, ".") && !strings.Contains(prefix, "..") && prefix[0] != '.' {
		l, err = b.kv.ListKeysFiltered(ctx, prefix+">")
	} else {
		l, err = b.kv.ListKeys(ctx)
	}
	if err != nil {
		return nil, b.wrap("keys", prefix, err)
	}
	defer l.Stop()
	keys := []string{}
	for k := range l.Keys() {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: keys %s: %w", b.name, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// Modify reads key, calls fn with the current value (exists false when
// missing) and writes what fn returns with a revision check, retrying from
// the read on a conflict until ctx ends. An error from fn aborts and is
// returned as is. It returns the revision written.
func (b *Bucket) Modify(ctx context.Context, key string, fn func(cur []byte, exists bool) (any, error)) (uint64, error) {
	for attempt := 0; ; attempt++ {
		cur, rev, exists, err := b.getRaw(ctx, key)
		if err != nil {
			return 0, err
		}
		v, err := fn(cur, exists)
		if err != nil {
			return 0, err
		}
		var n uint64
		if exists {
			n, err = b.Update(ctx, key, v, rev)
		} else {
			n, err = b.Create(ctx, key, v)
		}
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrExists) {
			return 0, err
		}
		// Someone else wrote first: back off a little, with jitter, and
		// read again.
		d := time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(time.Millisecond)))
		if err := wait.Sleep(ctx, d); err != nil {
			return 0, fmt.Errorf("kv: modify %s/%s: %w", b.name, key, err)
		}
	}
}

// wrap maps jetstream errors to this package's sentinels, keeping the cause.
func (b *Bucket) wrap(op, key string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return fmt.Errorf("kv: %s %s/%s: %w", op, b.name, key, ErrNotFound)
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("kv: %s %s/%s: %w (%w)", op, b.name, key, ErrConflict, err)
	}
	return fmt.Errorf("kv: %s %s/%s: %w", op, b.name, key, err)
}

func (b *Bucket) wrapCreate(key string, err error) error {
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongLastSeq(err) {
		return fmt.Errorf("kv: create %s/%s: %w", b.name, key, ErrExists)
	}
	return b.wrap("create", key, err)
}
