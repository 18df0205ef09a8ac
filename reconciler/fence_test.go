package reconciler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// flakyLeases grants every lease; once lose is closed, every renewal
// reports the lease lost (another replica took it after a partition).
type flakyLeases struct {
	lose chan struct{}
}

func (l *flakyLeases) Acquire(_ context.Context, key, holder string, _ time.Duration) (*kv.Lease, error) {
	return &kv.Lease{Key: key, Holder: holder, Rev: 1}, nil
}

func (l *flakyLeases) Renew(context.Context, *kv.Lease, time.Duration) error {
	select {
	case <-l.lose:
		return kv.ErrLost
	default:
		return nil
	}
}

func (l *flakyLeases) Release(context.Context, *kv.Lease) error { return nil }

// blockingStack applies only when its context ends (reporting the
// cancellation) or release is closed.
type blockingStack struct {
	*fakeStack
	started   chan struct{}
	release   chan struct{}
	cancelled chan struct{}
}

func (b *blockingStack) Apply(ctx context.Context, req appliers.Request, p *appliers.Plan) (*appliers.Result, error) {
	close(b.started)
	select {
	case <-ctx.Done():
		close(b.cancelled)
		return nil, appliers.Transient(ctx.Err(), 0)
	case <-b.release:
		return b.fakeStack.Apply(ctx, req, p)
	}
}

// A replica that loses its app lease in the middle of an apply stops the
// apply, and nothing it writes afterwards overwrites the record of the
// replica that took over.
func TestLostLeaseStopsApplyAndNeverOverwritesTheSurvivor(t *testing.T) {
	h := newHarness(t)
	bs := &blockingStack{fakeStack: h.stack, started: make(chan struct{}), release: make(chan struct{}), cancelled: make(chan struct{})}
	leases := &flakyLeases{lose: make(chan struct{})}
	c, err := New(Options{Instance: "stale", Loader: manifest.New(bs), Store: h.store, Events: h.ev,
		Now: func() time.Time { return h.now }, Leases: leases, LeaseTTL: 300 * time.Millisecond},
		[]Repo{{Name: "r", Path: "deploy", Interval: time.Minute, Source: h.src}})
	if err != nil {
		t.Fatal(err)
	}
	h.src.commit("init", map[string]string{"deploy/stacks.hcl": "stack \"dns\" {\n  path = \"infra/dns\"\n}\n", "infra/dns/main.tf": "# dns v1"})
	done := make(chan error, 1)
	go func() { done <- c.SyncOnce(context.Background(), "r") }()
	<-bs.started
	// The survivor takes over while the stale replica's apply runs: it
	// records its own deploy of one of the apps.
	applying := "dns"
	if st := h.state(applying); st.InFlight == nil {
		t.Fatalf("no deploy in flight while the apply runs: %+v", st)
	}
	survivor, err := h.store.Update(context.Background(), "r", applying, func(s *state.AppState) error {
		s.InFlight = nil
		s.LastDeploy = &state.DeployRecord{ID: "survivor-deploy", Outcome: "succeeded", Replica: "survivor"}
		s.Status, s.AppliedRevision = state.StatusSynced, "survivor-rev"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	close(leases.lose)
	select {
	case <-bs.cancelled:
	case <-time.After(5 * time.Second):
		close(bs.release)
		t.Fatal("the apply went on after the lease was lost")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := h.state(applying)
	if got.LastDeploy == nil || got.LastDeploy.ID != "survivor-deploy" || got.AppliedRevision != "survivor-rev" || got.Rev != survivor.Rev {
		t.Errorf("the stale replica overwrote the survivor's record: %+v (survivor wrote revision %d)", got, survivor.Rev)
	}
	hist, _ := h.store.History(context.Background(), "r", applying)
	if len(hist) != 0 {
		t.Errorf("the stale replica recorded history: %+v", hist)
	}
	if ev := h.ev.find("deploy.failed", applying); ev != nil {
		t.Errorf("the stale replica announced the deploy's end: %+v", ev.Data)
	}
	if ev := h.ev.find("deploy.succeeded", applying); ev != nil {
		t.Errorf("the stale replica announced success: %+v", ev.Data)
	}
}

// A recorder whose run read the state before another replica deployed the
// app is fenced: its write fails with errFenced and the newer state stays.
// A write that only raced an API action is applied on the fresh state.
func TestRecorderFencesStaleWriters(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.store.Update(ctx, "r", "dns", func(s *state.AppState) error { s.Status = state.StatusSynced; return nil }); err != nil {
		t.Fatal(err)
	}
	rec := h.c.recorderFor("r", "dns")
	if err := rec.load(ctx); err != nil {
		t.Fatal(err)
	}
	// An API action moves the state: not a deploy, so the write goes on.
	if _, err := h.c.requestForce(ctx, "r", "dns", state.ReasonManual, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := rec.save(ctx, func(s *state.AppState) { s.LastError = "planning" }); err != nil {
		t.Fatalf("save after an API action: %v", err)
	}
	if st := h.state("dns"); st.Forced != state.ReasonManual || st.LastError != "planning" {
		t.Errorf("the API action or the save was lost: %+v", st)
	}
	// Another replica deploys: the stale run is fenced.
	if _, err := h.store.Update(ctx, "r", "dns", func(s *state.AppState) error {
		s.LastDeploy = &state.DeployRecord{ID: "other"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err := rec.save(ctx, func(s *state.AppState) { s.InFlight = &state.DeployRecord{ID: "mine"} })
	if !errors.Is(err, errFenced) {
		t.Fatalf("save after another deploy: %v, want errFenced", err)
	}
	if st := h.state("dns"); st.InFlight != nil || st.LastDeploy.ID != "other" {
		t.Errorf("a fenced write landed: %+v", st)
	}
	if err := rec.save(ctx, func(s *state.AppState) {}); !errors.Is(err, errFenced) {
		t.Errorf("a fenced recorder wrote again: %v", err)
	}
}

// Two processes configured with the same instance name get distinct
// holder ids, so neither takes the other's leases or deploys for its own.
func TestHoldersAreUniquePerProcess(t *testing.T) {
	a, b := NewHolder("driftless-1"), NewHolder("driftless-1")
	if a == b {
		t.Fatalf("two holders with one instance name are equal: %s", a)
	}
	h := newHarness(t)
	c1, c2 := h.controller(), h.controller()
	if c1.holder == c2.holder {
		t.Errorf("two controllers share holder %s", c1.holder)
	}
}
