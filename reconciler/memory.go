package reconciler

import (
	"context"
	"sync"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// passMemory is what the reconcile passes of one repository know of its
// apps' stored states: each as its pass last read or wrote it. When the
// store is state.Sequenced, a pass counts its own writes: if the store's
// revision moved by exactly that many during the pass, nobody else wrote
// any app state meanwhile, and the states known are the stored ones as of
// the pass's end. If the store's revision has not moved when the next
// pass begins, that pass trusts them: a run whose remembered state is
// settled does not read it again (one store read per pass instead of one
// per app). A remembered state only ever ends a run with nothing to do;
// a run that goes on reads the stored state and starts again (freshState).
type passMemory struct {
	mu      sync.Mutex
	states  map[string]state.AppState // app → as stored, revision included
	start   uint64                    // the store's revision when the pass began
	writes  uint64                    // writes of the pass's runs
	trusted bool                      // states are the stored ones at start
	exact   bool                      // after a pass: states are the stored ones at end
	end     uint64
	quick   sync.Mutex // the lane of the runs deciding from trusted memory (see lane)
}

// beginPass notes the store's revision and decides whether the pass may
// trust what the last one left. Nil when the store cannot tell revisions.
func (c *Controller) beginPass(ctx context.Context, rs *repoState) *passMemory {
	seq, ok := c.opt.Store.(state.Sequenced)
	if !ok {
		return nil
	}
	if rs.mem == nil {
		rs.mem = &passMemory{states: map[string]state.AppState{}}
	}
	m := rs.mem
	rev, err := seq.LastRevision(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		c.log.Warn("reading the state store's revision; reading every app's state", "repo", rs.cfg.Name, "error", err)
		m.exact, m.trusted = false, false
		clear(m.states)
		return nil
	}
	m.trusted = m.exact && m.end == rev
	if !m.trusted {
		clear(m.states)
	}
	m.start, m.writes, m.exact = rev, 0, false
	return m
}

// endPass records whether the states known are the stored ones: the pass
// ran to its end, read or wrote every app of d, and the store's revision
// moved by its own writes only.
func (c *Controller) endPass(ctx context.Context, m *passMemory, d *manifest.Desired, complete bool) {
	if m == nil {
		return
	}
	var rev uint64
	var err error
	if complete {
		rev, err = c.opt.Store.(state.Sequenced).LastRevision(ctx)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trusted = false
	m.exact = complete && err == nil && rev >= m.start && rev-m.start == m.writes
	for name := range d.Apps {
		if _, ok := m.states[name]; !ok {
			m.exact = false
		}
	}
	m.end = rev
}

// recall returns app's remembered state when the pass trusts it.
func (m *passMemory) recall(app string) (state.AppState, bool) {
	if m == nil {
		return state.AppState{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[app]
	if !m.trusted || !ok {
		return state.AppState{}, false
	}
	return st.Clone(), true
}

// quiet reports whether the pass trusts app's remembered state and that
// state needs nothing up to skipUnchanged (see quiet): a run deciding from
// it reads nothing from the store.
func (m *passMemory) quiet(app, kind string) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[app]
	return m.trusted && ok && quiet(st, kind)
}

// read notes the stored state of app as read.
func (m *passMemory) read(app string, st state.AppState) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[app] = st.Clone()
}

// wrote notes a write of the pass.
func (m *passMemory) wrote(app string, st state.AppState) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[app] = st.Clone()
	m.writes++
}

// quiet reports whether a run deciding from st has nothing to write up to
// skipUnchanged: settled, no action requested.
func quiet(st state.AppState, kind string) bool {
	return settledAt(st, kind) && st.Forced == "" && st.ApprovedPlan == ""
}

// lane serializes the runs of a pass that decide from trusted memory. They
// only compute (no store read); one at a time, they leave the other
// processors free, so that the run of an app that has work, waiting for
// the store's reply, is woken as soon as the reply comes instead of after
// most other apps' runs (the Go scheduler looks for network replies when a
// processor has nothing else to run). It returns the release: nil when
// the pass does not trust its memory (its runs read the store, in
// parallel).
func (m *passMemory) lane() (release func()) {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	trusted := m.trusted
	m.mu.Unlock()
	if !trusted {
		return nil
	}
	m.quick.Lock()
	return m.quick.Unlock
}
