package kv_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/internal/testenv"
)

type state struct {
	Status string `json:"status"`
	N      int    `json:"n"`
}

func open(t *testing.T, opts kv.Options) (*kv.Bucket, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	_, js := testenv.NATS(t)
	b, err := kv.Open(ctx, js, "test", opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, ctx
}

func TestGetPutUpdateCreateDelete(t *testing.T) {
	b, ctx := open(t, kv.Options{History: 5})

	var s state
	if _, err := b.Get(ctx, "a", &s); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	r1, err := b.Create(ctx, "a", state{Status: "synced"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "a", state{}); !errors.Is(err, kv.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	rev, err := b.Get(ctx, "a", &s)
	if err != nil || rev != r1 || s.Status != "synced" {
		t.Fatalf("Get = %d %+v %v, want rev %d synced", rev, s, err, r1)
	}
	r2, err := b.Update(ctx, "a", state{Status: "failed"}, r1)
	if err != nil {
		t.Fatal(err)
	}
	// A writer holding the old revision loses.
	if _, err := b.Update(ctx, "a", state{Status: "stale"}, r1); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update with stale revision: %v, want ErrConflict", err)
	}
	if _, err := b.Get(ctx, "a", &s); err != nil || s.Status != "failed" {
		t.Fatalf("after conflict: %+v %v", s, err)
	}
	if _, err := b.Put(ctx, "a", state{Status: "put"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "a", &s); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get deleted: %v, want ErrNotFound", err)
	}
	if _, err := b.Update(ctx, "a", state{}, r2); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update of deleted key at old revision: %v, want ErrConflict", err)
	}
	// Create works again on a deleted key.
	if _, err := b.Create(ctx, "a", state{Status: "again"}); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
}

func TestKeys(t *testing.T) {
	b, ctx := open(t, kv.Options{})
	keys, err := b.Keys(ctx, "")
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("Keys of empty bucket = %#v, %v; want empty, nil", keys, err)
	}
	for _, k := range []string{"app.platform.web", "app.platform.api", "repo.platform", "app.other.x", "apple"} {
		if _, err := b.Put(ctx, k, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(ctx, "app.other.x"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"app.platform.api", "app.platform.web", "apple", "repo.platform"}},
		{"app.", []string{"app.platform.api", "app.platform.web"}},
		{"app", []string{"app.platform.api", "app.platform.web", "apple"}},
		{"app.platform.w", []string{"app.platform.web"}},
		{"none.", []string{}},
	}
	for _, tt := range tests {
		got, err := b.Keys(ctx, tt.prefix)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Keys(%q) = %v, %v; want %v", tt.prefix, got, err, tt.want)
		}
	}
}

func TestModifyConcurrent(t *testing.T) {
	b, ctx := open(t, kv.Options{})
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := b.Modify(ctx, "counter", func(cur []byte, exists bool) (any, error) {
				var c int
				if exists {
					if err := json.Unmarshal(cur, &c); err != nil {
						return nil, err
					}
				}
				return c + 1, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var c int
	if _, err := b.Get(ctx, "counter", &c); err != nil || c != n {
		t.Fatalf("counter = %d, %v; want %d", c, err, n)
	}
}

func TestModifyFnErrorAborts(t *testing.T) {
	b, ctx := open(t, kv.Options{})
	boom := errors.New("boom")
	if _, err := b.Modify(ctx, "k", func([]byte, bool) (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("Modify = %v, want boom", err)
	}
	if _, err := b.Get(ctx, "k", nil); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("key written despite fn error: %v", err)
	}
}

// leaseTTL is the TTL of TestLeases' leases.
const leaseTTL = 2 * time.Second

func TestLeases(t *testing.T) {
	b, ctx := open(t, kv.Options{LimitMarkerTTL: true})
	key := kv.Key("lease", "app", "platform", "web")

	l, err := b.Acquire(ctx, key, "replica-a", leaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, key, "replica-b", leaseTTL)
	var held *kv.HeldError
	if !errors.Is(err, kv.ErrHeld) || !errors.As(err, &held) || held.Holder != "replica-a" {
		t.Fatalf("second Acquire: %v, want ErrHeld by replica-a", err)
	}
	// The same holder re-acquiring gets its lease back, renewed.
	l2, err := b.Acquire(ctx, key, "replica-a", leaseTTL)
	if err != nil || l2.Rev <= l.Rev {
		t.Fatalf("re-Acquire by holder: %+v, %v", l2, err)
	}
	// A renewal at a revision the holder itself superseded (an ack that
	// never arrived) is not a loss: the lease still names the holder.
	if err := b.Renew(ctx, l, leaseTTL); err != nil || l.Rev <= l2.Rev {
		t.Fatalf("Renew at a revision superseded by the same holder: %v (rev %d, latest %d)", err, l.Rev, l2.Rev)
	}

	// Renewing keeps it held past the first TTL (renewals at a third of
	// it leave slack for a loaded machine).
	for range 4 {
		time.Sleep(leaseTTL / 3)
		if err := b.Renew(ctx, l, leaseTTL); err != nil {
			t.Fatalf("Renew: %v", err)
		}
	}
	if _, err := b.Acquire(ctx, key, "replica-b", leaseTTL); !errors.Is(err, kv.ErrHeld) {
		t.Fatalf("Acquire after renewals: %v, want ErrHeld", err)
	}

	// Left alone, it expires and another holder takes it.
	lb := waitAcquire(t, ctx, b, key, "replica-b")
	if err := b.Renew(ctx, l, leaseTTL); !errors.Is(err, kv.ErrLost) {
		t.Fatalf("Renew of expired lease: %v, want ErrLost", err)
	}
	if err := b.Release(ctx, l); !errors.Is(err, kv.ErrLost) {
		t.Fatalf("Release of lost lease: %v, want ErrLost", err)
	}

	// Release frees it at once.
	if err := b.Release(ctx, lb); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, key, "replica-c", time.Minute); err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
}

func waitAcquire(t *testing.T, ctx context.Context, b *kv.Bucket, key, holder string) *kv.Lease {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := b.Acquire(ctx, key, holder, leaseTTL)
		if err == nil {
			return l
		}
		if !errors.Is(err, kv.ErrHeld) || time.Now().After(deadline) {
			t.Fatalf("Acquire after TTL: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		parts []string
		want  string
	}{
		{[]string{"app", "platform", "web"}, "app.platform.web"},
		{[]string{"a-b_c/D9"}, "a-b_c/D9"},
		{[]string{"a.b", "c"}, "a=2Eb.c"},
		{[]string{"a=b"}, "a=3Db"},
		{[]string{"x y", "é"}, "x=20y.=C3=A9"},
		{[]string{"", "x", ""}, "=.x.="},
		{[]string{"*", ">"}, "=2A.=3E"},
	}
	for _, tt := range tests {
		if got := kv.Key(tt.parts...); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

// TestKeyIsValid stores a value under escaped keys that would otherwise be
// invalid.
func TestKeyIsValid(t *testing.T) {
	b, ctx := open(t, kv.Options{})
	for _, parts := range [][]string{{"a.b", "c d"}, {"", ""}, {"ünï", "*>"}} {
		k := kv.Key(parts...)
		if _, err := b.Put(ctx, k, parts); err != nil {
			t.Errorf("Put(%q): %v", k, err)
		}
	}
}
