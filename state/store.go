package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Errors the controller's API methods wrap.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrBadRequest = errors.New("bad request")
	// ErrStale is returned by Put when the stored state moved past the
	// revision the writer read: the writer must read again and decide
	// anew, never overwrite.
	ErrStale = errors.New("stale state")
)

// Sequenced is a Store that tells its newest revision: every write of an
// app's state (Put, Update, Delete), by any writer, raises it by exactly
// one. A reader that knows every state as of one revision knows them all
// while the revision has not moved.
type Sequenced interface {
	LastRevision(ctx context.Context) (uint64, error)
}

var (
	_ Sequenced = (*MemStore)(nil)
	_ Sequenced = (*KVStore)(nil)
)

// Watcher is a Store shared by processes that tells each of them of the
// app states any of them writes, as they are written.
type Watcher interface {
	// WatchApps calls fn with each app state written after it starts, in
	// order, until ctx ends (nil) or the watch fails. fn must return
	// quickly.
	WatchApps(ctx context.Context, fn func(AppState)) error
}

var _ Watcher = (*KVStore)(nil)

// Store keeps app state and deploy history.
type Store interface {
	// Get returns the state of one app, or an error wrapping ErrNotFound.
	Get(ctx context.Context, repo, app string) (AppState, error)
	// Update reads the app's state (a zero AppState with Repo and App set
	// when there is none), applies fn and writes the result, retrying fn
	// when another writer got there first.
	Update(ctx context.Context, repo, app string, fn func(*AppState) error) (AppState, error)
	// Put writes st only if the stored state is still at st.Rev (0: only
	// if there is none) and returns it with its new Rev; otherwise it
	// returns an error wrapping ErrStale.
	Put(ctx context.Context, st AppState) (AppState, error)
	// List returns every app's state.
	List(ctx context.Context) ([]AppState, error)
	// Delete forgets an app.
	Delete(ctx context.Context, repo, app string) error
	// AppendHistory records a deploy or rollback, newest last.
	AppendHistory(ctx context.Context, repo, app string, rec DeployRecord) error
	// History returns an app's records, newest first.
	History(ctx context.Context, repo, app string) ([]DeployRecord, error)
	// Repo returns what is remembered of a repository (a zero RepoState
	// with Repo set when nothing is).
	Repo(ctx context.Context, repo string) (RepoState, error)
	// PutRepo stores what is remembered of a repository.
	PutRepo(ctx context.Context, rs RepoState) error
}

// MemStore is an in-memory Store for tests and `driftless plan`.
type MemStore struct {
	mu      sync.Mutex
	states  map[string]AppState
	history map[string][]DeployRecord
	repos   map[string]RepoState
	rev     uint64 // last revision written, for Put's check
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{states: map[string]AppState{}, history: map[string][]DeployRecord{}, repos: map[string]RepoState{}}
}

func memKey(repo, app string) string { return repo + "/" + app }

func (m *MemStore) Get(_ context.Context, repo, app string) (AppState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[memKey(repo, app)]
	if !ok {
		return AppState{}, ErrNotFound
	}
	return st.Clone(), nil
}

func (m *MemStore) Update(_ context.Context, repo, app string, fn func(*AppState) error) (AppState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[memKey(repo, app)]
	if !ok {
		st = AppState{Repo: repo, App: app}
	}
	st = st.Clone()
	if err := fn(&st); err != nil {
		return AppState{}, err
	}
	m.rev++
	st.Rev = m.rev
	m.states[memKey(repo, app)] = st.Clone()
	return st, nil
}

func (m *MemStore) Put(_ context.Context, st AppState) (AppState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(st.Repo, st.App)
	if cur, ok := m.states[k]; ok && cur.Rev != st.Rev || !ok && st.Rev != 0 {
		return AppState{}, fmt.Errorf("%w: %s at revision %d", ErrStale, k, st.Rev)
	}
	m.rev++
	st = st.Clone()
	st.Rev = m.rev
	m.states[k] = st.Clone()
	return st, nil
}

func (m *MemStore) List(context.Context) ([]AppState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]AppState, 0, len(m.states))
	for _, st := range m.states {
		out = append(out, st.Clone())
	}
	Sort(out)
	return out, nil
}

func (m *MemStore) Delete(_ context.Context, repo, app string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++ // a delete is a write (see Sequenced)
	delete(m.states, memKey(repo, app))
	return nil
}

// LastRevision is the newest revision given to a write (see Sequenced).
func (m *MemStore) LastRevision(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev, nil
}

func (m *MemStore) AppendHistory(_ context.Context, repo, app string, rec DeployRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(repo, app)
	for i := range m.history[k] {
		if rec.ID != "" && m.history[k][i].ID == rec.ID {
			m.history[k][i] = rec
			return nil
		}
	}
	m.history[k] = append(m.history[k], rec)
	if len(m.history[k]) > HistoryLimit {
		m.history[k] = m.history[k][len(m.history[k])-HistoryLimit:]
	}
	return nil
}

func (m *MemStore) History(_ context.Context, repo, app string) ([]DeployRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[memKey(repo, app)]
	out := make([]DeployRecord, len(h))
	for i := range h {
		out[len(h)-1-i] = h[i]
	}
	return out, nil
}

func (m *MemStore) Repo(_ context.Context, repo string) (RepoState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs, ok := m.repos[repo]
	if !ok {
		rs = RepoState{Repo: repo}
	}
	return rs, nil
}

func (m *MemStore) PutRepo(_ context.Context, rs RepoState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.repos[rs.Repo] = rs
	return nil
}

// Sort orders states by repo, then app.
func Sort(s []AppState) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Repo != s[j].Repo {
			return s[i].Repo < s[j].Repo
		}
		return s[i].App < s[j].App
	})
}

// Clone returns a copy of s whose pointer fields are copies too, so that
// callers never share them.
func (s AppState) Clone() AppState {
	if s.LastPlan != nil {
		p := *s.LastPlan
		s.LastPlan = &p
	}
	if s.LastDeploy != nil {
		d := *s.LastDeploy
		s.LastDeploy = &d
	}
	if s.InFlight != nil {
		d := *s.InFlight
		s.InFlight = &d
	}
	if s.Drift != nil {
		d := *s.Drift
		s.Drift = &d
	}
	return s
}
