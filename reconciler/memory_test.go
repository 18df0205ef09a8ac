package reconciler

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/driftless/driftless/state"
)

// foreignStore writes, once, a forced reconcile of app into the store it
// wraps when the pass first saves the state of trigger: another replica's
// API action landing in the middle of a pass.
type foreignStore struct {
	state.Store
	trigger, app string
	armed        atomic.Bool
}

func (s *foreignStore) Put(ctx context.Context, st state.AppState) (state.AppState, error) {
	saved, err := s.Store.Put(ctx, st)
	if err == nil && st.App == s.trigger && s.armed.CompareAndSwap(true, false) {
		if _, ferr := s.Store.Update(ctx, st.Repo, s.app, func(a *state.AppState) error {
			a.Forced, a.ForcedBy = state.ReasonManual, "another replica"
			return nil
		}); ferr != nil {
			return saved, ferr
		}
	}
	return saved, err
}

func (s *foreignStore) LastRevision(ctx context.Context) (uint64, error) {
	return s.Store.(state.Sequenced).LastRevision(ctx)
}

// A state another writer changed between two passes is read by the next
// pass, not taken from what the last pass remembers.
func TestPassReadsStatesWrittenSinceTheLastPass(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", manyStacks(3))
	h.sync()
	h.src.commit("Change s001", map[string]string{"infra/s001/main.tf": "# s001 v2"})
	h.sync() // remembers every state

	// Another replica's API asks for a reconcile of s000.
	if _, err := h.store.Update(context.Background(), "r", "s000", func(a *state.AppState) error {
		a.Forced, a.ForcedBy = state.ReasonManual, "another replica"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	plans0, _ := h.stack.counts()
	h.src.commit("Change s002", map[string]string{"infra/s002/main.tf": "# s002 v2"})
	h.sync()
	plans1, _ := h.stack.counts()
	if plans1["s000"] != plans0["s000"]+1 {
		t.Fatalf("s000 plans: %d → %d; want the forced reconcile planned", plans0["s000"], plans1["s000"])
	}
	if st := h.state("s000"); st.Forced != "" {
		t.Fatalf("s000's forced reconcile not consumed: %+v", st)
	}
}

// A write by another writer during a pass makes the next pass read every
// state: what the pass remembers is no longer the store's.
func TestPassReadsEveryStateAfterAForeignWriteDuringAPass(t *testing.T) {
	h := newHarness(t)
	fs := &foreignStore{Store: h.store, trigger: "s002", app: "s000"}
	h.c = h.controllerWithStore(fs)
	h.src.commit("init", manyStacks(3))
	h.sync()
	h.src.commit("Change s001", map[string]string{"infra/s001/main.tf": "# s001 v2"})
	h.sync()

	plans0, _ := h.stack.counts()
	fs.armed.Store(true)
	h.src.commit("Change s002", map[string]string{"infra/s002/main.tf": "# s002 v2"})
	h.sync() // s000 may run before or after the foreign write
	h.sync() // a trigger on the same revision, as the action's broadcast makes
	plans1, _ := h.stack.counts()
	if fs.armed.Load() {
		t.Fatal("the foreign write did not happen")
	}
	if plans1["s000"] != plans0["s000"]+1 {
		t.Fatalf("s000 plans: %d → %d; want its forced reconcile planned once", plans0["s000"], plans1["s000"])
	}
	if st := h.state("s000"); st.Forced != "" {
		t.Fatalf("s000's forced reconcile not consumed: %+v", st)
	}
}
