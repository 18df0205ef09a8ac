package kv_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/kv"
)

// A watch reports the puts made after it started, in order and with their
// revisions, and not the values that were there before nor deletes; it
// ends without an error when its ctx does.
func TestWatch(t *testing.T) {
	b, ctx := open(t, kv.Options{History: 5})
	if _, err := b.Put(ctx, "before", state{N: 0}); err != nil {
		t.Fatal(err)
	}
	type put struct {
		key string
		n   int
		rev uint64
	}
	got := make(chan put, 100)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Watch(wctx, func(key string, value []byte, rev uint64) {
			var s state
			if err := json.Unmarshal(value, &s); err != nil {
				t.Errorf("value of %s: %v", key, err)
			}
			got <- put{key, s.N, rev}
		})
	}()
	// The watch starts in the background: write a marker until it is seen.
	for ready := false; !ready; {
		if _, err := b.Put(ctx, "ready", state{}); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			ready = p.key == "ready"
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the watch never saw the marker")
		}
	}
	var want []put
	for i, key := range []string{"a", "b", "a"} {
		rev, err := b.Put(ctx, key, state{N: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, put{key, i + 1, rev})
	}
	if err := b.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	rev, err := b.Put(ctx, "c", state{N: 4})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, put{"c", 4, rev})
	var seen []put
	for len(seen) < len(want) {
		select {
		case p := <-got:
			if p.key != "ready" { // more markers may follow the first
				seen = append(seen, p)
			}
		case <-ctx.Done():
			t.Fatalf("watched %v, want %v", seen, want)
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("watched %v, want %v", seen, want)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Watch after its ctx ended: %v", err)
	}
	select {
	case p := <-got:
		t.Errorf("reported after the puts: %+v", p)
	default:
	}
}
