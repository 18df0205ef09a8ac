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
