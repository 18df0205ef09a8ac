package reconciler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/state"
)

// lockHeld is an error reporting a held state lock (appliers.LockReporter).
type lockHeld struct{ lock appliers.StateLock }

func (e lockHeld) Error() string {
	return fmt.Sprintf("state lock %s held by %s since %s", e.lock.ID, e.lock.Who, e.lock.Created.UTC().Format(time.RFC3339))
}

func (e lockHeld) StateLock() appliers.StateLock { return e.lock }

// lockingStack reports its state locked while lock is set; ForceUnlock
// clears it (as terraform force-unlock does).
type lockingStack struct {
	*fakeStack
	mu       sync.Mutex
	lock     *appliers.StateLock
	unlocked []string
}

func (l *lockingStack) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	l.mu.Lock()
	lock := l.lock
	l.mu.Unlock()
	if lock != nil {
		return nil, appliers.Transient(lockHeld{*lock}, 0)
	}
	return l.fakeStack.Plan(ctx, req)
}

func (l *lockingStack) ForceUnlock(_ context.Context, _ appliers.Request, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlocked = append(l.unlocked, id)
	if l.lock != nil && l.lock.ID == id {
		l.lock = nil
	}
	return nil
}

// setUpInterrupted makes dns's last deploy one interrupted on a process
// that is gone, started at h.now, and returns the locking controller.
func setUpInterrupted(t *testing.T, h *harness, ls *lockingStack) *Controller {
	h.src.commit("init", map[string]string{"deploy/stacks.hcl": "stack \"dns\" {\n  path = \"infra/dns\"\n}\n", "infra/dns/main.tf": "# dns v1"})
	c, err := New(Options{Instance: "survivor", Loader: manifest.New(ls), Store: h.store, Events: h.ev,
		Now: func() time.Time { return h.now }}, []Repo{{Name: "r", Path: "deploy", Interval: time.Minute, Source: h.src}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Update(context.Background(), "r", "dns", func(s *state.AppState) error {
		s.InFlight = &state.DeployRecord{ID: "d-dead", StartedAt: h.now, Replica: "dead", Holder: "dead/1-00000000", Who: c.who}
		s.Status = state.StatusProgressing
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := h.now
	h.now = h.now.Add(30 * time.Second)        // the takeover comes after the lease TTL
	c.recoverInterrupted(context.Background()) // records d-dead as interrupted
	h.now = start
	return c
}

func TestOrphanedStateLockOfAnInterruptedDeployIsForceUnlocked(t *testing.T) {
	h := newHarness(t)
	ls := &lockingStack{fakeStack: h.stack}
	c := setUpInterrupted(t, h, ls)
	ls.lock = &appliers.StateLock{ID: "lock-1", Who: c.who, Operation: "OperationTypeApply", Created: h.now.Add(2 * time.Second)}
	h.now = h.now.Add(time.Minute)
	if err := c.SyncOnce(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	if len(ls.unlocked) != 1 || ls.unlocked[0] != "lock-1" {
		t.Fatalf("force-unlocked %v, want [lock-1]", ls.unlocked)
	}
	ev := h.ev.find("lock.force_unlocked", "dns")
	if ev == nil || ev.Data.Extra["lock_id"] != "lock-1" || ev.Data.Extra["lock_who"] != c.who || ev.Data.Extra["interrupted_deploy_id"] != "d-dead" {
		t.Fatalf("lock.force_unlocked event = %+v", ev)
	}
	if st := h.state("dns"); st.Status != state.StatusSynced || st.LastDeploy == nil || st.LastDeploy.Outcome != "succeeded" {
		t.Errorf("after the unlock dns = %+v", st)
	}
}

func TestStateLockHeldBySomeoneElseIsNeverBroken(t *testing.T) {
	for name, lock := range map[string]appliers.StateLock{
		"a person":                  {ID: "lock-2", Who: "alice@laptop", Operation: "OperationTypeApply"},
		"taken before the deploy":   {ID: "lock-3", Operation: "OperationTypeApply"},
		"taken after it was closed": {ID: "lock-4", Operation: "OperationTypeApply"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			ls := &lockingStack{fakeStack: h.stack}
			c := setUpInterrupted(t, h, ls)
			lock.Created = h.now.Add(time.Second)
			if lock.Who == "" {
				lock.Who = c.who
			}
			switch lock.ID {
			case "lock-3":
				lock.Created = h.now.Add(-time.Hour)
			case "lock-4":
				lock.Created = h.now.Add(time.Hour)
			}
			ls.lock = &lock
			h.now = h.now.Add(time.Minute)
			if err := c.SyncOnce(context.Background(), "r"); err != nil {
				t.Fatal(err)
			}
			if len(ls.unlocked) != 0 {
				t.Fatalf("broke a lock that is not driftless's orphan: %v", ls.unlocked)
			}
			st := h.state("dns")
			if st.Status != state.StatusFailed || !strings.Contains(st.LastError, lock.ID) || !strings.Contains(st.LastError, lock.Who) || st.RetryAt.IsZero() {
				t.Errorf("dns = status %s, error %q, retry at %v; want failed, naming the lock and its holder, with a retry", st.Status, st.LastError, st.RetryAt)
			}
			if ev := h.ev.find("lock.force_unlocked", "dns"); ev != nil {
				t.Errorf("announced an unlock: %+v", ev)
			}
		})
	}
}
