package reconciler

import (
	"context"
	"errors"
	"testing"

	"github.com/driftless/driftless/state"
)

// downStore fails every call while down is set, like a KV bucket whose
// NATS servers are unreachable.
type downStore struct {
	*state.MemStore
	down bool
}

var errDown = errors.New("nats: no servers available for connection")

func (d *downStore) List(ctx context.Context) ([]state.AppState, error) {
	if d.down {
		return nil, errDown
	}
	return d.MemStore.List(ctx)
}

func (d *downStore) Get(ctx context.Context, repo, app string) (state.AppState, error) {
	if d.down {
		return state.AppState{}, errDown
	}
	return d.MemStore.Get(ctx, repo, app)
}

func TestAPIServesLastKnownStateDuringOutage(t *testing.T) {
	h := newHarness(t)
	ds := &downStore{MemStore: h.store}
	h.c.opt.Store = ds
	h.src.commit("init", baseFiles())
	h.sync()
	ctx := context.Background()
	before, err := h.c.Apps(ctx)
	if err != nil || len(before) != 3 {
		t.Fatalf("Apps = %v, %v", before, err)
	}
	ds.down = true
	during, err := h.c.Apps(ctx)
	if err != nil || len(during) != 3 || during[0].AppliedRevision != before[0].AppliedRevision {
		t.Fatalf("during the outage: %v, %v", during, err)
	}
	if st, err := h.c.App(ctx, "r", "dns"); err != nil || st.Status != state.StatusSynced {
		t.Errorf("App during the outage: %+v, %v", st, err)
	}
	if _, err := h.c.App(ctx, "r", "nope"); err == nil {
		t.Error("an unknown app was found during the outage")
	}
}
