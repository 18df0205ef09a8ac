package drift

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/kv"
)

// Transition is what an observation changed.
type Transition string

const (
	None     Transition = ""         // nothing to announce
	Detected Transition = "detected" // a new drift
	Changed  Transition = "changed"  // the open drift's content changed
	Reminder Transition = "reminder" // still open after the reminder interval
	Resolved Transition = "resolved" // the drift is gone
)

// Announce reports whether t must be announced as an event.
func (t Transition) Announce() bool { return t != None }

// State is an open drift of one app.
type State struct {
	Repo        string               `json:"repo"`
	App         string               `json:"app"`
	Fingerprint string               `json:"fingerprint"`
	Items       []appliers.DriftItem `json:"items"`
	FirstSeen   time.Time            `json:"first_seen"`
	LastSeen    time.Time            `json:"last_seen"`
	AnnouncedAt time.Time            `json:"announced_at"`
}

// Fingerprint identifies drift content: the same items give the same
// fingerprint whatever their order.
func Fingerprint(items []appliers.DriftItem) string {
	c := make([]appliers.DriftItem, len(items))
	for i, it := range items {
		attrs := append([]string(nil), it.Attributes...)
		sort.Strings(attrs)
		c[i] = appliers.DriftItem{Address: it.Address, Attributes: attrs, Action: it.Action}
	}
	sort.Slice(c, func(i, j int) bool { return c[i].Address < c[j].Address })
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Store keeps open drifts.
type Store interface {
	Get(ctx context.Context, repo, app string) (*State, error) // nil, nil when none
	Put(ctx context.Context, s *State) error
	Delete(ctx context.Context, repo, app string) error
}

// Tracker turns drift reports into transitions.
type Tracker struct {
	store    Store
	reminder time.Duration
	now      func() time.Time
}

// NewTracker returns a tracker; reminder 0 disables reminders; now nil is time.Now.
func NewTracker(store Store, reminder time.Duration, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{store: store, reminder: reminder, now: now}
}

// Observe records a drift check of one app and says what to announce. The
// returned state is the open drift (for Resolved: the one that closed).
func (t *Tracker) Observe(ctx context.Context, repo, app string, r *appliers.DriftReport) (Transition, *State, error) {
	prev, err := t.store.Get(ctx, repo, app)
	if err != nil {
		return None, nil, err
	}
	now := t.now().UTC()
	if !r.Drifted() {
		if prev == nil {
			return None, nil, nil
		}
		if err := t.store.Delete(ctx, repo, app); err != nil {
			return None, nil, err
		}
		prev.LastSeen = now
		return Resolved, prev, nil
	}
	fp := Fingerprint(r.Items)
	st := &State{Repo: repo, App: app, Fingerprint: fp, Items: r.Items, FirstSeen: now, LastSeen: now, AnnouncedAt: now}
	tr := Detected
	if prev != nil {
		st.FirstSeen = prev.FirstSeen
		switch {
		case prev.Fingerprint != fp:
			tr = Changed
		case t.reminder > 0 && now.Sub(prev.AnnouncedAt) >= t.reminder:
			tr = Reminder
		default:
			tr, st.AnnouncedAt = None, prev.AnnouncedAt
		}
	}
	if err := t.store.Put(ctx, st); err != nil {
		return None, nil, err
	}
	return tr, st, nil
}

// Current returns the open drift of an app, or nil.
func (t *Tracker) Current(ctx context.Context, repo, app string) (*State, error) {
	return t.store.Get(ctx, repo, app)
}

// Forget drops an app's drift without announcing anything (the app was
// removed from the manifests).
func (t *Tracker) Forget(ctx context.Context, repo, app string) error {
	return t.store.Delete(ctx, repo, app)
}

// Bucket is the JetStream KV bucket of open drifts.
const Bucket = "DRIFTLESS_DRIFT"

// KVStore keeps open drifts in a JetStream KV bucket.
type KVStore struct{ b *kv.Bucket }

// OpenKVStore creates or opens the bucket.
func OpenKVStore(ctx context.Context, js jetstream.JetStream, replicas int) (*KVStore, error) {
	b, err := kv.Open(ctx, js, Bucket, kv.Options{Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("opening drift state: %w", err)
	}
	return &KVStore{b: b}, nil
}

func (s *KVStore) Get(ctx context.Context, repo, app string) (*State, error) {
	var st State
	if _, err := s.b.Get(ctx, kv.Key(repo, app), &st); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return &st, nil
}

func (s *KVStore) Put(ctx context.Context, st *State) error {
	_, err := s.b.Put(ctx, kv.Key(st.Repo, st.App), st)
	return err
}

func (s *KVStore) Delete(ctx context.Context, repo, app string) error {
	return s.b.Delete(ctx, kv.Key(repo, app))
}

// MemStore keeps open drifts in memory (tests, one-shot commands).
type MemStore struct {
	mu sync.Mutex
	m  map[string]State
}

func NewMemStore() *MemStore { return &MemStore{m: map[string]State{}} }

func (s *MemStore) Get(_ context.Context, repo, app string) (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[repo+"/"+app]
	if !ok {
		return nil, nil
	}
	return &st, nil
}

func (s *MemStore) Put(_ context.Context, st *State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[st.Repo+"/"+st.App] = *st
	return nil
}

func (s *MemStore) Delete(_ context.Context, repo, app string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, repo+"/"+app)
	return nil
}
