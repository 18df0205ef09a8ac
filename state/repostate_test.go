package state

import (
	"context"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// TestRepoStateCurrent: an app last written synced at an older revision
// reads as synced at the newest complete pass's revision; an app the pass
// left unsettled, one written at a revision loaded after the pass, and
// one with anything pending read as stored.
func TestRepoStateCurrent(t *testing.T) {
	synced := AppState{Repo: "r", App: "a", Kind: "stack", Status: StatusSynced, DesiredRevision: "c1", AppliedRevision: "c1"}
	m := RepoState{Repo: "r", Good: "c3", Last: Reconciled{Revision: "c2"}}
	m.Last.Loaded("c3")
	if got := m.Current(synced); got.DesiredRevision != "c2" || got.AppliedRevision != "c2" || got.Status != StatusSynced {
		t.Errorf("synced at c1, pass at c2: %+v", got)
	}
	drifted := synced
	drifted.Status = StatusDrifted
	if got := m.Current(drifted); got.AppliedRevision != "c2" || got.Status != StatusDrifted {
		t.Errorf("drifted at c1, pass at c2: %+v", got)
	}
	atC3 := synced
	atC3.DesiredRevision, atC3.AppliedRevision = "c3", "c3"
	if got := m.Current(atC3); got != atC3 {
		t.Errorf("written at c3, loaded after the pass at c2, moved back: %+v", got)
	}
	for name, mod := range map[string]func(*AppState){
		"failed":      func(s *AppState) { s.Status = StatusFailed },
		"error":       func(s *AppState) { s.LastError = "boom" },
		"in flight":   func(s *AppState) { s.InFlight = &DeployRecord{ID: "d"} },
		"suspended":   func(s *AppState) { s.Suspended = true },
		"pinned":      func(s *AppState) { s.PinnedRevision = "c0" },
		"out of sync": func(s *AppState) { s.DesiredRevision = "c0" },
		"never":       func(s *AppState) { s.AppliedRevision, s.DesiredRevision = "", "" },
	} {
		st := synced
		mod(&st)
		if got := m.Current(st); got.DesiredRevision != st.DesiredRevision || got.AppliedRevision != st.AppliedRevision {
			t.Errorf("%s: moved to %s/%s", name, got.DesiredRevision, got.AppliedRevision)
		}
	}
	unsettled := m
	unsettled.Last.Unsettled = []string{"a"}
	if got := unsettled.Current(synced); got.AppliedRevision != "c1" {
		t.Errorf("unsettled by the pass, moved: %+v", got)
	}
	if got := (RepoState{Repo: "r"}).Current(synced); got != synced {
		t.Errorf("no pass recorded, moved: %+v", got)
	}
}

// TestReconciledSinceIsBounded: revisions loaded after a pass that never
// complete pile up to a bound, past which nothing is inferred.
func TestReconciledSinceIsBounded(t *testing.T) {
	r := Reconciled{Revision: "c0"}
	for i := range maxSince {
		r.Loaded(string(rune('a' + i)))
	}
	if len(r.Since) != maxSince || r.Revision != "c0" {
		t.Fatalf("after %d loads: %+v", maxSince, r)
	}
	r.Loaded("z1")
	if r.Revision != "" || len(r.Since) != 0 {
		t.Fatalf("past the bound: %+v, want nothing inferred", r)
	}
	synced := AppState{App: "a", Status: StatusSynced, DesiredRevision: "c0", AppliedRevision: "c0"}
	if got := (RepoState{Last: r}).Current(synced); got != synced {
		t.Errorf("past the bound, moved: %+v", got)
	}
}

// TestRepoStateRoundTrip: the pass record survives the KV store.
func TestRepoStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, js := testenv.NATS(t)
	s, err := OpenKVStore(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := RepoState{Repo: "r", Good: "c3", Last: Reconciled{Revision: "c2", Unsettled: []string{"b"}, Since: []string{"c3"}}}
	if err := s.PutRepo(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Repo(ctx, "r")
	if err != nil || got.Last.Revision != "c2" || len(got.Last.Unsettled) != 1 || len(got.Last.Since) != 1 || got.Good != "c3" {
		t.Fatalf("Repo = %+v, %v; want %+v", got, err, want)
	}
}
