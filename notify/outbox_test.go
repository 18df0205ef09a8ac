package notify

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOutboxOrderReloadAndCleanup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	ob := newOutbox(dir, 0)
	var ids []string
	for i := range 3 {
		ev := New("r", CatDeploy, ActStarted, Data{Repo: "p", App: string(rune('a' + i))})
		if dropped, err := ob.append(ev); err != nil || len(dropped) != 0 {
			t.Fatalf("append: %v, dropped %d", err, len(dropped))
		}
		ids = append(ids, ev.ID)
	}
	// A write interrupted by a crash, and a foreign file, are ignored.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-00000000000000000009"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A new process sees the same queue, in order, and appends after it.
	ob2 := newOutbox(dir, 0)
	if n := ob2.len(); n != 3 {
		t.Fatalf("reloaded len = %d, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-00000000000000000009")); !os.IsNotExist(err) {
		t.Errorf("interrupted write not cleaned up: %v", err)
	}
	ev4 := New("r", CatDeploy, ActStarted, Data{Repo: "p", App: "d"})
	if _, err := ob2.append(ev4); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, ev4.ID)
	for i, want := range ids {
		seq, ev, ok, err := ob2.head()
		if !ok || err != nil || ev.ID != want {
			t.Fatalf("head %d = %s %v %v, want %s", i, ev.ID, ok, err, want)
		}
		ob2.remove(seq)
	}
	if _, _, ok, _ := ob2.head(); ok {
		t.Fatal("outbox not empty after removing everything")
	}
}

func TestOutboxCorruptEntry(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	ob := newOutbox(dir, 0)
	ev := New("r", CatSource, ActFailed, Data{Repo: "p"})
	if _, err := ob.append(ev); err != nil {
		t.Fatal(err)
	}
	seq, _, ok, err := ob.head()
	if !ok || err == nil || seq != 1 {
		t.Fatalf("head of corrupt entry = %d %v %v, want seq 1 with an error", seq, ok, err)
	}
	ob.remove(seq)
	if _, got, ok, err := ob.head(); !ok || err != nil || got.ID != ev.ID {
		t.Fatalf("next head = %v %v %v", got.ID, ok, err)
	}
}

func TestOutboxBoundDropsOldest(t *testing.T) {
	ob := newOutbox(t.TempDir(), 1)
	ev := New("r", CatDrift, ActDetected, Data{Repo: "p", App: "a"})
	dropped, err := ob.append(ev)
	if err != nil {
		t.Fatal(err)
	}
	// A single event over the bound is itself dropped, and reported.
	if len(dropped) != 1 || dropped[0].ID != ev.ID || ob.len() != 0 || ob.bytes != 0 {
		t.Fatalf("dropped %v, len %d, bytes %d", dropped, ob.len(), ob.bytes)
	}
}

func TestPubBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    string
	}{{1, "100ms"}, {2, "200ms"}, {3, "400ms"}, {6, "3.2s"}, {7, "5s"}, {50, "5s"}}
	for _, tt := range tests {
		if got := pubBackoff(tt.attempt).String(); got != tt.want {
			t.Errorf("pubBackoff(%d) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
}
