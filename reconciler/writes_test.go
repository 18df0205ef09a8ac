package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftless/driftless/state"
)

// countingStore counts the calls that reach a Store.
type countingStore struct {
	state.Store
	writes, reads atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, repo, app string) (state.AppState, error) {
	s.reads.Add(1)
	return s.Store.Get(ctx, repo, app)
}

// LastRevision is state.Sequenced, when the store wrapped is (one read).
func (s *countingStore) LastRevision(ctx context.Context) (uint64, error) {
	s.reads.Add(1)
	seq, ok := s.Store.(state.Sequenced)
	if !ok {
		return 0, errors.New("the store wrapped tells no revision")
	}
	return seq.LastRevision(ctx)
}

func (s *countingStore) List(ctx context.Context) ([]state.AppState, error) {
	s.reads.Add(1)
	return s.Store.List(ctx)
}

func (s *countingStore) Repo(ctx context.Context, repo string) (state.RepoState, error) {
	s.reads.Add(1)
	return s.Store.Repo(ctx, repo)
}

func (s *countingStore) Put(ctx context.Context, st state.AppState) (state.AppState, error) {
	s.writes.Add(1)
	return s.Store.Put(ctx, st)
}

func (s *countingStore) Update(ctx context.Context, repo, app string, fn func(*state.AppState) error) (state.AppState, error) {
	s.writes.Add(1)
	return s.Store.Update(ctx, repo, app, fn)
}

func (s *countingStore) Delete(ctx context.Context, repo, app string) error {
	s.writes.Add(1)
	return s.Store.Delete(ctx, repo, app)
}

func (s *countingStore) AppendHistory(ctx context.Context, repo, app string, rec state.DeployRecord) error {
	s.writes.Add(1)
	return s.Store.AppendHistory(ctx, repo, app, rec)
}

func (s *countingStore) PutRepo(ctx context.Context, rs state.RepoState) error {
	s.writes.Add(1)
	return s.Store.PutRepo(ctx, rs)
}

// manyStacks is a manifest of n independent stacks and their files.
func manyStacks(n int) map[string]string {
	files := map[string]string{}
	var b strings.Builder
	for i := range n {
		name := fmt.Sprintf("s%03d", i)
		fmt.Fprintf(&b, "stack %q {\n  path = \"infra/%s\"\n}\n", name, name)
		files["infra/"+name+"/main.tf"] = "# " + name + " v1"
	}
	files["deploy/stacks.hcl"] = b.String()
	return files
}

type commitCost struct{ writes, reads int64 }

// costOfOneStackCommit deploys n stacks, then measures the store calls of
// the sync of a commit touching one of them, and of an idle poll after
// it. It checks that the commit deployed that stack alone and that every
// other stack shows as synced at the new head.
func costOfOneStackCommit(t *testing.T, n int) (commit, idle commitCost) {
	t.Helper()
	h := newHarness(t)
	store := &countingStore{Store: h.store}
	h.c = h.controllerWithStore(store)
	h.src.commit("init", manyStacks(n))
	h.sync()
	_, applies0 := h.stack.counts()

	sha := h.src.commit("Change s001", map[string]string{"infra/s001/main.tf": "# s001 v2"})
	w0, r0 := store.writes.Load(), store.reads.Load()
	h.sync()
	commit = commitCost{store.writes.Load() - w0, store.reads.Load() - r0}

	_, applies1 := h.stack.counts()
	for app, n := range applies1 {
		if want := applies0[app] + map[bool]int{true: 1}[app == "s001"]; n != want {
			t.Errorf("%s applied %d times, want %d", app, n, want)
		}
	}
	for i := range n {
		app := fmt.Sprintf("s%03d", i)
		if st := h.state(app); st.Status != state.StatusSynced || st.AppliedRevision != sha || st.DesiredRevision != sha {
			t.Errorf("%s after the commit: status %s, applied %.7s, desired %.7s; want synced at %.7s", app, st.Status, st.AppliedRevision, st.DesiredRevision, sha)
		}
	}
	if ev := h.ev.find("deploy.succeeded", "s001"); ev == nil || ev.Data.Revision != sha {
		t.Errorf("no deploy.succeeded of s001 at %.7s: %v", sha, h.ev.types(0))
	}

	// An idle poll, as the loop's timer runs it.
	w0, r0 = store.writes.Load(), store.reads.Load()
	rs := h.c.repos["r"]
	if err := h.c.syncSafely(context.Background(), rs, false); err != nil {
		t.Fatal(err)
	}
	idle = commitCost{store.writes.Load() - w0, store.reads.Load() - r0}
	return commit, idle
}

// TestUnchangedAppsCostNoWritePerCommit: a commit that touches one stack of
// N writes and reads the store as often whatever N (the touched stack's deploy and
// one record for the repository), and an idle poll neither writes nor
// reads app state; yet every untouched stack shows as synced at the new
// head through the API.
func TestUnchangedAppsCostNoWritePerCommit(t *testing.T) {
	small, smallIdle := costOfOneStackCommit(t, 3)
	large, largeIdle := costOfOneStackCommit(t, 60)
	t.Logf("one-stack commit: %d writes, %d reads with 3 stacks; %d writes, %d reads with 60", small.writes, small.reads, large.writes, large.reads)
	if small.writes != large.writes {
		t.Errorf("store writes for a one-stack commit grow with the stacks: %d with 3, %d with 60", small.writes, large.writes)
	}
	if large.writes > 10 {
		t.Errorf("store writes for a one-stack commit = %d, want a handful", large.writes)
	}
	// Nor does it read the state of the stacks it did not touch (the pass
	// remembers them: passMemory).
	if small.reads != large.reads {
		t.Errorf("store reads for a one-stack commit grow with the stacks: %d with 3, %d with 60", small.reads, large.reads)
	}
	if smallIdle != (commitCost{}) || largeIdle != (commitCost{}) {
		t.Errorf("an idle poll touched the store: %+v with 3 stacks, %+v with 60", smallIdle, largeIdle)
	}
}

// TestIdlePollRunsAppsWhenWorkIsPending: a poll on an unchanged revision
// still runs the apps when the last pass left one unsettled (a failure
// whose retry comes due) or when it is triggered.
func TestIdlePollRunsAppsWhenWorkIsPending(t *testing.T) {
	h := newHarness(t)
	h.src.commit("init", manyStacks(2))
	h.stack.failPlan["s001"] = fmt.Errorf("boom")
	h.sync()
	if st := h.state("s001"); st.Status != state.StatusFailed {
		t.Fatalf("s001 = %s, want failed", st.Status)
	}
	delete(h.stack.failPlan, "s001")
	h.now = h.now.Add(time.Hour) // past the retry's backoff
	rs := h.c.repos["r"]
	if err := h.c.syncSafely(context.Background(), rs, false); err != nil {
		t.Fatal(err)
	}
	if st := h.state("s001"); st.Status != state.StatusSynced {
		t.Fatalf("s001 after an untriggered poll with its retry due = %s, want synced", st.Status)
	}
	// Settled now: a manual reconcile (an API action, which triggers) runs.
	plans0, _ := h.stack.counts()
	if _, err := h.c.Act(context.Background(), Action{Repo: "r", App: "s000", Action: "reconcile", Caller: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.syncSafely(context.Background(), rs, true); err != nil {
		t.Fatal(err)
	}
	if plans1, _ := h.stack.counts(); plans1["s000"] != plans0["s000"]+1 {
		t.Errorf("s000 plans after a triggered manual reconcile: %d → %d", plans0["s000"], plans1["s000"])
	}
}
