package reconciler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// stuckDrift is a stack whose drift scans block until release is closed.
type stuckDrift struct {
	*fakeStack
	scanning chan struct{}
	release  chan struct{}
}

func (s *stuckDrift) Drift(ctx context.Context, req appliers.Request, ignore []string) (*appliers.DriftReport, error) {
	select {
	case s.scanning <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.fakeStack.Drift(ctx, req, ignore)
}

// A new commit (a webhook's trigger) is fetched and deployed while a drift
// scan of the same repo is still running: scans have their own lane. On
// shutdown the scan stops at once.
func TestDeployNeverWaitsForADriftScan(t *testing.T) {
	h := newHarness(t)
	sd := &stuckDrift{fakeStack: h.stack, scanning: make(chan struct{}, 1), release: make(chan struct{})}
	c, err := New(Options{Instance: "test", Loader: manifest.New(sd), Store: h.store, Events: h.ev,
		Drift: drift.NewTracker(h.drift, 0, nil)},
		[]Repo{{Name: "r", Path: "deploy", Interval: time.Hour, DriftInterval: 10 * time.Millisecond, Source: h.src}})
	if err != nil {
		t.Fatal(err)
	}
	h.src.commit("init", baseFiles())
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = c.Run(ctx); close(stopped) }()
	select {
	case <-sd.scanning:
	case <-time.After(10 * time.Second):
		t.Fatal("no drift scan started")
	}
	// A scan is stuck; a commit lands and the webhook triggers a poll.
	files := baseFiles()
	files["infra/dns/main.tf"] = "# dns v2"
	sha := h.src.commit("dns v2", files)
	c.Trigger("r")
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := h.store.Get(context.Background(), "r", "dns")
		if err == nil && st.AppliedRevision == sha && st.Status == state.StatusSynced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dns not deployed at %s while a drift scan ran: %+v", sha, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the controller did not stop while a drift scan ran")
	}
}

// Rollback requests read the repo's current revision while its loop loads
// new ones: under the race detector this failed when the revision was read
// without the loop's lock.
func TestRollbackWhileTheLoopLoads(t *testing.T) {
	h := newHarness(t)
	first := h.src.commit("init", baseFiles())
	c, err := New(Options{Instance: "test", Loader: manifest.New(h.stack), Store: h.store, Events: h.ev},
		[]Repo{{Name: "r", Path: "deploy", Interval: time.Millisecond, Source: h.src}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = c.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := h.store.Get(ctx, "r", "dns"); err == nil && st.AppliedRevision == first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first revision was not deployed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 20 {
		files := baseFiles()
		files["README.md"] = fmt.Sprint("hello ", i)
		h.src.commit(fmt.Sprint("readme ", i), files)
		c.Trigger("r")
		if _, err := c.Act(ctx, Action{Repo: "r", App: "dns", Action: "rollback", To: first, Caller: "ops"}); err != nil {
			t.Fatalf("rollback %d: %v", i, err)
		}
	}
}
