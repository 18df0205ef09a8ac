package kv_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/internal/natsd"
	"github.com/driftless/driftless/internal/testenv"
)

// TestReplicatedBucket runs conflicts and leases on an R3 bucket in a
// 3-node cluster (R>1 streams report revision conflicts with another error
// code) and keeps going after a node dies.
func TestReplicatedBucket(t *testing.T) {
	testenv.Short(t)
	t0 := time.Now()
	urls, stop := testenv.NATSCluster(t, 3)
	t.Logf("cluster up in %s", time.Since(t0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := natsd.Connect(ctx, strings.Join(urls, ","), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b, err := kv.Open(ctx, js, "leases", kv.Options{Replicas: 3, LimitMarkerTTL: true})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := b.Create(ctx, "k", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "k", 2); !errors.Is(err, kv.ErrExists) {
		t.Fatalf("Create of present key: %v, want ErrExists", err)
	}
	if _, err := b.Update(ctx, "k", 2, r1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(ctx, "k", 3, r1); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("stale Update: %v, want ErrConflict", err)
	}
	l, err := b.Acquire(ctx, kv.Key("repo", "platform"), "a", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, l.Key, "b", 5*time.Second); !errors.Is(err, kv.ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}

	t0 = time.Now()
	stop(0)
	t.Logf("node stopped in %s", time.Since(t0))
	// The bucket keeps working on the two remaining nodes once a new
	// leader is elected (if node 0 led it).
	for {
		actx, acancel := context.WithTimeout(ctx, time.Second)
		err = b.Renew(actx, l, 5*time.Second)
		acancel()
		if err == nil {
			break
		}
		if errors.Is(err, kv.ErrLost) || ctx.Err() != nil {
			t.Fatalf("Renew after a node died: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("renewed after failover in %s", time.Since(t0))
	if err := b.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, l.Key, "b", time.Second); err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if err := b.Renew(ctx, l, time.Second); !errors.Is(err, kv.ErrLost) {
		t.Fatalf("Renew of a lease taken by b: %v, want ErrLost", err)
	}
	if err := b.Release(ctx, l); !errors.Is(err, kv.ErrLost) {
		t.Fatalf("Release of a lease taken by b: %v, want ErrLost", err)
	}
}
