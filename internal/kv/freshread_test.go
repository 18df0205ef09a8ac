package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/internal/natsd"
	"github.com/driftless/driftless/internal/testenv"
)

// On an R3 bucket a value written through one node is what a reader on
// every other node gets right after the write returns: reads do not come
// from a follower that has not applied it yet (the holder acting on an
// action another replica recorded must see it). Each round writes through
// one connection and reads at once through the other two; deletes too.
func TestReplicatedReadsSeeTheLatestWrite(t *testing.T) {
	testenv.Short(t)
	urls, _ := testenv.NATSCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var buckets []*kv.Bucket
	for i, u := range urls {
		nc, js, err := natsd.Connect(ctx, u, "fresh", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		b, err := kv.Open(ctx, js, "fresh", kv.Options{Replicas: 3})
		if err != nil {
			t.Fatalf("open on node %d: %v", i, err)
		}
		buckets = append(buckets, b)
	}
	for n := 1; n <= 300; n++ {
		w := buckets[n%3]
		if _, err := w.Put(ctx, "app", state{N: n}); err != nil {
			t.Fatal(err)
		}
		for i, r := range buckets {
			var s state
			if _, err := r.Get(ctx, "app", &s); err != nil || s.N != n {
				t.Fatalf("round %d: node %d read %+v, %v right after node %d wrote %d", n, i, s, err, n%3, n)
			}
		}
	}
	if err := buckets[0].Delete(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	for i, r := range buckets {
		if _, err := r.Get(ctx, "app", nil); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("node %d after the delete: %v, want ErrNotFound", i, err)
		}
	}
}
