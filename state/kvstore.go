package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/kv"
)

// Bucket names in JetStream.
const (
	StateBucket   = "DRIFTLESS_STATE"
	HistoryBucket = "DRIFTLESS_HISTORY"
	ReposBucket   = "DRIFTLESS_REPOS"
)

// HistoryLimit is how many records are kept per app.
const HistoryLimit = 200

// KVStore is the Store kept in JetStream KV buckets: one key per app for
// its state, one per app for its history (newest HistoryLimit records).
type KVStore struct {
	state   *kv.Bucket
	history *kv.Bucket
	repos   *kv.Bucket

	mu      sync.Mutex
	decoded map[string]decodedState // by key: the last state decoded, and its bytes
}

// decodedState is an app state as decoded from raw: a Get that reads the
// same bytes again returns a clone of st without decoding them again (a
// pass over 1,000 unchanged apps reads 1,000 unchanged states).
type decodedState struct {
	raw []byte
	st  AppState
}

// OpenKVStore creates or opens the buckets with the given replication.
func OpenKVStore(ctx context.Context, js jetstream.JetStream, replicas int) (*KVStore, error) {
	st, err := kv.Open(ctx, js, StateBucket, kv.Options{Replicas: replicas, History: 5})
	if err != nil {
		return nil, fmt.Errorf("opening app state: %w", err)
	}
	h, err := kv.Open(ctx, js, HistoryBucket, kv.Options{Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("opening deploy history: %w", err)
	}
	r, err := kv.Open(ctx, js, ReposBucket, kv.Options{Replicas: replicas})
	if err != nil {
		return nil, fmt.Errorf("opening repository state: %w", err)
	}
	return &KVStore{state: st, history: h, repos: r}, nil
}

func (s *KVStore) Get(ctx context.Context, repo, app string) (AppState, error) {
	key := kv.Key(repo, app)
	var raw json.RawMessage
	rev, err := s.state.Get(ctx, key, &raw)
	if err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return AppState{}, fmt.Errorf("%w: %s/%s", ErrNotFound, repo, app)
		}
		return AppState{}, err
	}
	s.mu.Lock()
	d, ok := s.decoded[key]
	s.mu.Unlock()
	if !ok || !bytes.Equal(d.raw, raw) {
		d = decodedState{raw: raw}
		if err := json.Unmarshal(raw, &d.st); err != nil {
			return AppState{}, fmt.Errorf("kv: get %s: decode: %w", key, err)
		}
		s.mu.Lock()
		if s.decoded == nil {
			s.decoded = map[string]decodedState{}
		}
		s.decoded[key] = decodedState{raw: raw, st: d.st.Clone()}
		s.mu.Unlock()
	}
	st := d.st.Clone()
	st.Rev = rev
	return st, nil
}

func (s *KVStore) Put(ctx context.Context, st AppState) (AppState, error) {
	key := kv.Key(st.Repo, st.App)
	var rev uint64
	var err error
	if st.Rev == 0 {
		rev, err = s.state.Create(ctx, key, st)
	} else {
		rev, err = s.state.Update(ctx, key, st, st.Rev)
	}
	if errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrExists) {
		return AppState{}, fmt.Errorf("%w: %s/%s at revision %d: %w", ErrStale, st.Repo, st.App, st.Rev, err)
	}
	if err != nil {
		return AppState{}, err
	}
	st.Rev = rev
	return st, nil
}

func (s *KVStore) Update(ctx context.Context, repo, app string, fn func(*AppState) error) (AppState, error) {
	var out AppState
	rev, err := s.state.Modify(ctx, kv.Key(repo, app), func(cur []byte, exists bool) (any, error) {
		st := AppState{Repo: repo, App: app}
		if exists {
			if err := json.Unmarshal(cur, &st); err != nil {
				return nil, fmt.Errorf("decoding state of %s/%s: %w", repo, app, err)
			}
		}
		if err := fn(&st); err != nil {
			return nil, err
		}
		out = st
		return st, nil
	})
	if err != nil {
		return AppState{}, err
	}
	out.Rev = rev
	return out, nil
}

func (s *KVStore) List(ctx context.Context) ([]AppState, error) {
	keys, err := s.state.Keys(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]AppState, 0, len(keys))
	for _, k := range keys {
		var st AppState
		rev, err := s.state.Get(ctx, k, &st)
		if err != nil {
			if errors.Is(err, kv.ErrNotFound) {
				continue // deleted meanwhile
			}
			return nil, err
		}
		st.Rev = rev
		out = append(out, st)
	}
	Sort(out)
	return out, nil
}

// LastRevision is the state bucket's newest revision (see Sequenced).
func (s *KVStore) LastRevision(ctx context.Context) (uint64, error) {
	return s.state.LastRevision(ctx)
}

// WatchApps calls fn with each app state written to the bucket after it
// starts (see Watcher); a value that does not decode is skipped.
func (s *KVStore) WatchApps(ctx context.Context, fn func(AppState)) error {
	return s.state.Watch(ctx, func(_ string, value []byte, rev uint64) {
		var st AppState
		if json.Unmarshal(value, &st) != nil {
			return
		}
		st.Rev = rev
		fn(st)
	})
}

func (s *KVStore) Delete(ctx context.Context, repo, app string) error {
	s.mu.Lock()
	delete(s.decoded, kv.Key(repo, app))
	s.mu.Unlock()
	return s.state.Delete(ctx, kv.Key(repo, app))
}

func (s *KVStore) AppendHistory(ctx context.Context, repo, app string, rec DeployRecord) error {
	_, err := s.history.Modify(ctx, kv.Key(repo, app), func(cur []byte, exists bool) (any, error) {
		var recs []DeployRecord
		if exists {
			if err := json.Unmarshal(cur, &recs); err != nil {
				return nil, fmt.Errorf("decoding history of %s/%s: %w", repo, app, err)
			}
		}
		for i := range recs {
			if recs[i].ID == rec.ID && rec.ID != "" {
				recs[i] = rec // the same deploy recorded again: keep one
				return recs, nil
			}
		}
		recs = append(recs, rec)
		if len(recs) > HistoryLimit {
			recs = recs[len(recs)-HistoryLimit:]
		}
		return recs, nil
	})
	return err
}

func (s *KVStore) History(ctx context.Context, repo, app string) ([]DeployRecord, error) {
	var recs []DeployRecord
	if _, err := s.history.Get(ctx, kv.Key(repo, app), &recs); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return []DeployRecord{}, nil
		}
		return nil, err
	}
	out := make([]DeployRecord, len(recs))
	for i := range recs {
		out[len(recs)-1-i] = recs[i]
	}
	return out, nil
}

func (s *KVStore) Repo(ctx context.Context, repo string) (RepoState, error) {
	rs := RepoState{Repo: repo}
	if _, err := s.repos.Get(ctx, kv.Key(repo), &rs); err != nil && !errors.Is(err, kv.ErrNotFound) {
		return RepoState{Repo: repo}, err
	}
	return rs, nil
}

func (s *KVStore) PutRepo(ctx context.Context, rs RepoState) error {
	_, err := s.repos.Put(ctx, kv.Key(rs.Repo), rs)
	return err
}
