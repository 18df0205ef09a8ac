package state

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// testStore is one conformance suite for every Store.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "r", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing app: %v", err)
	}
	st, err := s.Update(ctx, "r", "a", func(st *AppState) error {
		if st.Repo != "r" || st.App != "a" {
			t.Errorf("new state not named: %+v", st)
		}
		st.Status, st.AppliedRevision = StatusSynced, "abc"
		st.LastDeploy = &DeployRecord{ID: "d1"}
		return nil
	})
	if err != nil || st.Status != StatusSynced {
		t.Fatalf("Update: %+v %v", st, err)
	}
	got, err := s.Get(ctx, "r", "a")
	if err != nil || got.AppliedRevision != "abc" || got.LastDeploy.ID != "d1" {
		t.Fatalf("Get after Update: %+v %v", got, err)
	}
	// Concurrent updates of different fields do not lose each other.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, "r", "a", func(st *AppState) error { st.Attempts++; _ = i; return nil })
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := s.Get(ctx, "r", "a"); got.Attempts != 8 {
		t.Errorf("Attempts = %d after 8 concurrent increments", got.Attempts)
	}
	if _, err := s.Update(ctx, "r2", "b", func(st *AppState) error { return nil }); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].App != "a" || list[1].Repo != "r2" {
		t.Fatalf("List = %+v %v", list, err)
	}
	for _, id := range []string{"d1", "d2", "d2"} {
		if err := s.AppendHistory(ctx, "r", "a", DeployRecord{ID: id, Outcome: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, "r", "a")
	if err != nil || len(h) != 2 || h[0].ID != "d2" {
		t.Fatalf("History = %+v %v (want newest first, d2 recorded once)", h, err)
	}
	if h, _ := s.History(ctx, "r", "none"); len(h) != 0 {
		t.Errorf("History of an app without any = %v", h)
	}
	if err := s.Delete(ctx, "r2", "b"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(ctx); len(list) != 1 {
		t.Errorf("List after Delete = %+v", list)
	}
	testPut(t, s)
	if rs, err := s.Repo(ctx, "r"); err != nil || rs.Repo != "r" || rs.Rejected != "" {
		t.Fatalf("Repo of a repository never stored: %+v %v", rs, err)
	}
	if err := s.PutRepo(ctx, RepoState{Repo: "r", Evaluating: "abc", Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.Repo(ctx, "r"); rs.Evaluating != "abc" || rs.Attempts != 1 {
		t.Errorf("Repo after PutRepo = %+v", rs)
	}
}

// testPut checks the revision-checked write: a writer holding state read
// before another write fails with ErrStale instead of overwriting it.
func testPut(t *testing.T, s Store) {
	ctx := context.Background()
	created, err := s.Put(ctx, AppState{Repo: "p", App: "x", Status: StatusProgressing})
	if err != nil || created.Rev == 0 {
		t.Fatalf("Put of a new app: %+v %v", created, err)
	}
	if _, err := s.Put(ctx, AppState{Repo: "p", App: "x"}); !errors.Is(err, ErrStale) {
		t.Errorf("Put with revision 0 over an existing app: %v, want ErrStale", err)
	}
	stale, err := s.Get(ctx, "p", "x")
	if err != nil || stale.Rev != created.Rev {
		t.Fatalf("Get: %+v %v, want revision %d", stale, err, created.Rev)
	}
	// Another writer (the replica that took over) moves the state on.
	if _, err := s.Update(ctx, "p", "x", func(st *AppState) error { st.LastDeploy = &DeployRecord{ID: "survivor"}; return nil }); err != nil {
		t.Fatal(err)
	}
	stale.Status, stale.LastDeploy = StatusSynced, &DeployRecord{ID: "stale"}
	if _, err := s.Put(ctx, stale); !errors.Is(err, ErrStale) {
		t.Fatalf("Put of stale state: %v, want ErrStale", err)
	}
	got, _ := s.Get(ctx, "p", "x")
	if got.LastDeploy == nil || got.LastDeploy.ID != "survivor" {
		t.Fatalf("a stale Put overwrote newer state: %+v", got.LastDeploy)
	}
	got.Status = StatusSynced
	next, err := s.Put(ctx, got)
	if err != nil || next.Rev <= got.Rev || next.Status != StatusSynced {
		t.Fatalf("Put at the current revision: %+v %v", next, err)
	}
}

func TestMemStore(t *testing.T) { testStore(t, NewMemStore()) }

func TestKVStore(t *testing.T) {
	_, js := testenv.NATS(t)
	s, err := OpenKVStore(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
}
