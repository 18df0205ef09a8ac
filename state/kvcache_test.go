package state

import (
	"context"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// A state read again with the same bytes is not decoded again: what a
// caller does to the state it got never shows in the next Get, and a
// write by another store (another replica) always does.
func TestKVStoreGetDecodesEachValueOnce(t *testing.T) {
	ctx := context.Background()
	_, js := testenv.NATS(t)
	s, err := OpenKVStore(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := OpenKVStore(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, AppState{Repo: "r", App: "a", Status: StatusSynced, LastDeploy: &DeployRecord{ID: "d1"}}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Get(ctx, "r", "a")
	if err != nil {
		t.Fatal(err)
	}
	first.Status, first.LastDeploy.ID = StatusFailed, "changed by the caller"
	again, err := s.Get(ctx, "r", "a")
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != StatusSynced || again.LastDeploy.ID != "d1" || again.Rev != first.Rev {
		t.Fatalf("second Get: %s %q rev %d; want synced, d1, rev %d", again.Status, again.LastDeploy.ID, again.Rev, first.Rev)
	}
	again.Status = StatusOutOfSync
	moved, err := other.Put(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "r", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusOutOfSync || got.Rev != moved.Rev {
		t.Fatalf("after another store's write: %s rev %d; want %s rev %d", got.Status, got.Rev, StatusOutOfSync, moved.Rev)
	}
	if err := other.Delete(ctx, "r", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "r", "a"); err == nil {
		t.Fatal("Get after a delete by another store: no error")
	}
}
