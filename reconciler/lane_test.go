package reconciler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
)

// meetingStack is fakeStack whose plans of the apps in meet wait (up to a
// deadline) until all of them are planning at once.
type meetingStack struct {
	*fakeStack
	mu     sync.Mutex
	meet   map[string]bool
	in     int
	all    chan struct{}
	missed []string
}

func (m *meetingStack) arm(apps ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meet, m.in, m.all, m.missed = map[string]bool{}, 0, make(chan struct{}), nil
	for _, a := range apps {
		m.meet[a] = true
	}
}

func (m *meetingStack) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	m.mu.Lock()
	wait := m.meet[req.App]
	var all chan struct{}
	if wait {
		m.in++
		all = m.all
		if m.in == len(m.meet) {
			close(all)
		}
	}
	m.mu.Unlock()
	if wait {
		select {
		case <-all:
		case <-time.After(3 * time.Second):
			m.mu.Lock()
			m.missed = append(m.missed, req.App)
			m.mu.Unlock()
		}
	}
	return m.fakeStack.Plan(ctx, req)
}

// In a pass that trusts what the last one remembers, the runs deciding
// from memory take turns (passMemory.lane), but a run that reads its
// state and plans does not hold its turn: an app left failed plans while
// a changed app plans too.
func TestPassLaneLeavesRunsThatPlanInParallel(t *testing.T) {
	h := newHarness(t)
	ms := &meetingStack{fakeStack: h.stack}
	store := &countingStore{Store: h.store}
	h.c = h.controllerOf(ms, store)
	h.src.commit("init", manyStacks(4))
	h.sync()

	h.stack.mu.Lock()
	h.stack.failPlan["s000"] = errors.New("provider unreachable")
	h.stack.mu.Unlock()
	h.src.commit("Change s000", map[string]string{"infra/s000/main.tf": "# s000 v2"})
	h.sync()
	if st := h.state("s000"); st.LastError == "" {
		t.Fatalf("s000 did not fail: %+v", st)
	}
	h.stack.mu.Lock()
	delete(h.stack.failPlan, "s000")
	h.stack.mu.Unlock()

	ms.arm("s000", "s001")
	reads := store.reads.Load()
	head := h.src.commit("Change s001", map[string]string{"infra/s001/main.tf": "# s001 v2"})
	h.sync()
	// The pass trusted its memory: of the apps' states, it read only the
	// failed app's and the changed app's (the repository's marks once, as
	// the load reads and writes them, the store's revision twice, the two
	// apps).
	if got := store.reads.Load() - reads; got != 5 {
		t.Fatalf("the pass made %d store reads, want 5: the unchanged apps decided from memory", got)
	}
	if len(ms.missed) > 0 {
		t.Fatalf("plans of %v waited alone: the failed app's run and the changed app's run did not plan at once", ms.missed)
	}
	for _, app := range []string{"s000", "s001"} {
		if st := h.state(app); st.LastError != "" || st.AppliedRevision != head {
			t.Fatalf("%s not deployed at head: %+v", app, st)
		}
	}
}
