package reconciler

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// Replicas sharing a real 3-node JetStream cluster (issue 6). The harness
// is in cluster_env_test.go: each replica is a Controller with its own
// NATS connection, R3 state store, R3 lease bucket and event publisher; the
// events are really stored in the R3 stream and read back with
// notify.Follow. The applier is a fake shared by the replicas (the cloud),
// which fails the test on concurrent applies of one app and counts applies
// per app and revision.

// clusterApps are the apps of baseFiles (network → app by an output, dns).
var clusterApps = []string{"network", "app", "dns"}

func TestClusterBurstAppliedOnce(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	e.cloud.cost = 20 * time.Millisecond
	var rs []*replica
	for i, name := range []string{"a", "b", "c"} {
		rs = append(rs, e.start(name, e.urls[i], 200*time.Millisecond))
	}
	e.waitSynced(20*time.Second, head, clusterApps...)

	// Ten commits in quick succession, each announced by a webhook-like
	// trigger broadcast to every replica.
	for i := 1; i <= 10; i++ {
		changes := map[string]string{}
		for j, app := range clusterApps {
			if i%4 == 0 || i%3 == j {
				changes["infra/"+app+"/main.tf"] = fmt.Sprintf("# %s v%d", app, i+1)
			}
		}
		head = e.src.commit(fmt.Sprintf("Change %d", i), changes)
		e.trigger()
		time.Sleep(40 * time.Millisecond)
	}
	e.waitSynced(30*time.Second, head, clusterApps...)

	applied := e.checkOnce()
	byType := e.checkEvents(e.events())
	succeeded := map[string][]string{}
	for _, ev := range byType["deploy.succeeded"] {
		k := ev.Data.App + "@" + ev.Data.Revision
		succeeded[k] = append(succeeded[k], ev.Source)
	}
	for k, by := range applied {
		if len(succeeded[k]) != 1 || succeeded[k][0] != "driftless/"+by[0] {
			t.Errorf("%s applied by %v; deploy.succeeded in the stream from %v, want one from driftless/%s", k, by, succeeded[k], by[0])
		}
	}
	for k := range succeeded {
		if _, ok := applied[k]; !ok {
			t.Errorf("deploy.succeeded of %s, which the cloud never saw applied", k)
		}
	}
	for _, app := range clusterApps {
		hist := e.history(app)
		ids := map[string]bool{}
		n := 0
		for k := range applied {
			if strings.HasPrefix(k, app+"@") {
				n++
			}
		}
		for _, rec := range hist {
			if rec.Outcome != "succeeded" || ids[rec.ID] {
				t.Errorf("%s history: %+v (duplicate or not succeeded)", app, rec)
			}
			ids[rec.ID] = true
		}
		if len(hist) != n {
			t.Errorf("%s: %d records in history, %d applies in the cloud", app, len(hist), n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var want []state.AppState
	for i, r := range rs {
		got, err := r.c.Apps(ctx)
		if err != nil {
			t.Fatalf("Apps on %s: %v", r.name, err)
		}
		if i == 0 {
			want = got
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Apps on %s differs from Apps on %s:\n%+v\n%+v", r.name, rs[0].name, got, want)
		}
	}
	if len(want) != len(clusterApps) {
		t.Errorf("Apps lists %d apps, want %d", len(want), len(clusterApps))
	}
	t.Logf("%d app revisions deployed, once each; repo lease held by %s", len(applied), e.holder(repoLeaseKey("r")))
}

func TestClusterFailoverMidDeploy(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	rs := map[string]*replica{
		"a": e.start("a", e.urls[0], 200*time.Millisecond),
		"b": e.start("b", e.urls[1], 200*time.Millisecond),
	}
	e.waitSynced(20*time.Second, head, clusterApps...)

	g := e.cloud.block("apply", "dns")
	head = e.src.commit("dns v2", map[string]string{"infra/dns/main.tf": "# dns v2"})
	e.trigger()
	var victim string
	select {
	case victim = <-g.reached:
	case <-time.After(15 * time.Second):
		t.Fatal("no apply of dns started")
	}
	defer close(g.release)
	survivor := "a"
	if victim == "a" {
		survivor = "b"
	}
	if h := e.holder(repoLeaseKey("r")); h != victim {
		t.Fatalf("%s applies but the repo lease is held by %q", victim, h)
	}
	st := e.state("dns")
	if st.InFlight == nil || st.InFlight.Replica != victim || st.Status != state.StatusProgressing {
		t.Fatalf("dns state during the apply: %+v", st)
	}
	deployID := st.InFlight.ID

	t0 := time.Now()
	e.crash(rs[victim])
	t.Logf("%s crashed in %s", victim, time.Since(t0).Round(time.Millisecond))
	if h := e.holder(repoLeaseKey("r")); h != victim {
		t.Fatalf("after the crash the repo lease is held by %q: a crash must not release it", h)
	}
	if h := e.holder(appLeaseKey("r", "dns")); h != victim {
		t.Fatalf("after the crash the app lease is held by %q: a crash must not release it", h)
	}
	e.waitSynced(20*time.Second, head, clusterApps...)
	t.Logf("%s crashed applying dns; %s took over and completed it %s later (lease TTL %s)",
		victim, survivor, time.Since(t0).Round(time.Millisecond), clusterTTL)

	if h := e.holder(repoLeaseKey("r")); h != survivor {
		t.Errorf("repo lease held by %q, want %s", h, survivor)
	}
	// The state says synced first; the history record and the release of
	// the app lease follow right after it.
	e.eventually(10*time.Second, "dns history complete and its app lease free", func() (bool, string) {
		h, n := e.holder(appLeaseKey("r", "dns")), len(e.history("dns"))
		return h == "" && n == 3, fmt.Sprintf("app lease held by %q, %d history records", h, n)
	})
	hist := e.history("dns")
	if len(hist) != 3 {
		t.Fatalf("dns history has %d records, want 3 (first deploy, interrupted, completed): %+v", len(hist), hist)
	}
	if r := hist[0]; r.Outcome != "succeeded" || r.Revision != head || r.Replica != survivor {
		t.Errorf("newest record: %+v, want succeeded at %.7s by %s", r, head, survivor)
	}
	if r := hist[1]; r.ID != deployID || r.Outcome != "interrupted" || r.Replica != victim || r.Revision != head ||
		!strings.Contains(r.Error, "interrupted") || r.FinishedAt.IsZero() {
		t.Errorf("interrupted record: %+v, want deploy %s by %s", r, deployID, victim)
	}
	if r := hist[2]; r.Outcome != "succeeded" || r.Revision == head {
		t.Errorf("first record: %+v", r)
	}

	byType := e.checkEvents(e.events())
	find := func(typ, id string) *notify.Event {
		for _, ev := range byType[typ] {
			if ev.Data.DeployID == id {
				return &ev
			}
		}
		return nil
	}
	if ev := find("deploy.started", deployID); ev == nil || ev.Source != "driftless/"+victim {
		t.Errorf("deploy.started of the interrupted deploy: %+v", ev)
	}
	if ev := find("deploy.failed", deployID); ev == nil || !strings.Contains(ev.Data.Error, "interrupted") ||
		ev.Source != "driftless/"+survivor || ev.Data.App != "dns" || ev.Data.Revision != head {
		t.Errorf("deploy.failed of the interrupted deploy: %+v", ev)
	}
	if ev := find("deploy.succeeded", hist[0].ID); ev == nil || ev.Source != "driftless/"+survivor {
		t.Errorf("deploy.succeeded of the new deploy: %+v", ev)
	}
	applied := e.checkOnce()
	if by := applied["dns@"+head]; !slices.Equal(by, []string{survivor}) {
		t.Errorf("dns@%.7s applied by %v, want [%s]", head, by, survivor)
	}
}

func TestClusterNATSNodeStopped(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	all := strings.Join(e.urls, ",")
	rs := []*replica{e.start("a", all, 200*time.Millisecond), e.start("b", all, 200*time.Millisecond)}
	e.waitSynced(20*time.Second, head, clusterApps...)

	// Stop the node the repo's reconciling replica is connected to.
	holder := e.holder(repoLeaseKey("r"))
	var hr *replica
	for _, r := range rs {
		if r.name == holder {
			hr = r
		}
	}
	if hr == nil {
		t.Fatalf("repo lease holder %q is not a replica", holder)
	}
	dead := slices.Index(e.urls, hr.nc.ConnectedUrl())
	if dead < 0 {
		t.Fatalf("%s is connected to %s, not a cluster node %v", hr.name, hr.nc.ConnectedUrl(), e.urls)
	}
	t0 := time.Now()
	e.stop(dead)
	t.Logf("stopped node n%d (%s's) in %s", dead+1, hr.name, time.Since(t0).Round(time.Millisecond))

	changes := map[string]string{}
	for _, app := range clusterApps {
		changes["infra/"+app+"/main.tf"] = "# " + app + " v2"
	}
	head = e.src.commit("Change everything", changes)
	e.trigger()
	t0 = time.Now()
	e.waitSynced(30*time.Second, head, clusterApps...)
	t.Logf("the commit was applied %s after it landed; repo lease now held by %s", time.Since(t0).Round(time.Millisecond), e.holder(repoLeaseKey("r")))

	for _, r := range rs {
		if u := r.nc.ConnectedUrl(); u == e.urls[dead] || !r.nc.IsConnected() {
			t.Errorf("%s connected to %q (connected %v), want a live node", r.name, u, r.nc.IsConnected())
		}
	}
	applied := e.checkOnce()
	byType := e.checkEvents(e.events())
	for _, app := range clusterApps {
		if len(applied[app+"@"+head]) != 1 {
			t.Errorf("%s@%.7s applied by %v", app, head, applied[app+"@"+head])
		}
		n := 0
		for _, ev := range byType["deploy.succeeded"] {
			if ev.Data.App == app && ev.Data.Revision == head {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d deploy.succeeded of %s at %.7s in the stream, want 1", n, app, head)
		}
	}
}

// dbStack is a stack whose plans wait for a person's approval.
const dbStack = `
stack "db" {
  path       = "infra/db"
  auto_apply = false
}
`

// twoReplicas starts replicas a and b with a long interval (so that only
// a trigger makes the holder act at once), waits until head is synced,
// and returns the name of the one holding the repo and the other one.
func (e *clusterEnv) twoReplicas(t *testing.T, head string) (holder string, other *replica) {
	t.Helper()
	rs := []*replica{e.start("a", e.urls[0], time.Minute), e.start("b", e.urls[1], time.Minute)}
	e.waitSynced(20*time.Second, head, clusterApps...)
	holder = e.holder(repoLeaseKey("r"))
	for _, r := range rs {
		if r.name != holder {
			other = r
		}
	}
	if holder == "" || other == nil {
		t.Fatalf("repo lease held by %q", holder)
	}
	return holder, other
}

func TestClusterActionOnNonHolder(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	// A long interval: the holder acts at once only when the trigger
	// broadcast by the replica that took the action reaches it.
	holder, other := e.twoReplicas(t, head)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("reconcile", func(t *testing.T) {
		e.cloud.stack.tamper("dns", "changed outside")
		t0 := time.Now()
		st, err := other.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "reconcile", Caller: "alice"})
		if err != nil {
			t.Fatalf("Act on %s (not the holder): %v", other.name, err)
		}
		if st.Forced != state.ReasonManual || st.ForcedBy != "alice" {
			t.Errorf("state after Act: forced %q by %q", st.Forced, st.ForcedBy)
		}
		e.eventually(10*time.Second, "manual deploy of dns by the holder", func() (bool, string) {
			h := e.history("dns")
			if len(h) == 0 || h[0].Reason != state.ReasonManual {
				return false, fmt.Sprintf("history %+v", h)
			}
			return true, ""
		})
		t.Logf("the holder planned and applied dns %s after Act on the other replica", time.Since(t0).Round(time.Millisecond))
		if r := e.history("dns")[0]; r.Replica != holder || r.Caller != "alice" || r.Outcome != "succeeded" {
			t.Errorf("manual deploy record: %+v, want succeeded by %s for alice", r, holder)
		}
		if n := e.cloud.plansOf(holder, "dns", t0); n != 1 {
			t.Errorf("%s planned dns %d times after the action, want 1", holder, n)
		}
		if st := e.state("dns"); st.Forced != "" || st.Status != state.StatusSynced {
			t.Errorf("dns state after the manual deploy: forced %q status %q", st.Forced, st.Status)
		}
	})

	t.Run("approve", func(t *testing.T) {
		head := e.src.commit("Add db", map[string]string{"deploy/db.hcl": dbStack, "infra/db/main.tf": "# db v1"})
		e.trigger()
		e.eventually(10*time.Second, "db awaiting approval", func() (bool, string) {
			st := e.state("db")
			return st.Status == state.StatusAwaitingApproval && st.LastPlan != nil && st.LastPlan.Revision == head, "status " + st.Status
		})
		planID := e.state("db").LastPlan.ID
		if _, err := other.c.Act(ctx, Action{Repo: "r", App: "db", Action: "approve", Caller: "bob"}); err != nil {
			t.Fatalf("approve on %s (not the holder): %v", other.name, err)
		}
		e.waitSynced(10*time.Second, head, "db")
		h := e.history("db")
		if len(h) != 1 || h[0].Reason != state.ReasonApproved || h[0].Caller != "bob" || h[0].Replica != holder {
			t.Errorf("db history: %+v", h)
		}
		e.cloud.stack.mu.Lock()
		last := e.cloud.stack.applied[len(e.cloud.stack.applied)-1]
		e.cloud.stack.mu.Unlock()
		if last.ID != planID {
			t.Errorf("applied plan %q, want the approved plan %q", last.ID, planID)
		}
	})

	if n := e.cloud.plansOf(other.name, "", time.Time{}); n != 0 {
		t.Errorf("%s, which never held the repo lease, planned %d times", other.name, n)
	}
	if o := e.cloud.overlapping(); len(o) > 0 {
		t.Errorf("concurrent applies of one app: %v", o)
	}
	// dns is applied twice at the first revision: its first deploy and the
	// manual one; everything else once.
	for k, by := range e.cloud.applied() {
		want := 1
		if k == "dns@"+head {
			want = 2
		}
		if len(by) != want {
			t.Errorf("%s applied by %v, want %d apply", k, by, want)
		}
	}
	e.checkEvents(e.events())
}

// TestClusterActionTriggerLost: the trigger a replica broadcasts when it
// takes an action is a core NATS message, which is lost when the holder's
// interest has not yet reached the publisher's server, or while a
// connection is down. The action is in the store all the same: the holder
// must act on it at once, not at its next full pass (up to 15 minutes
// away). Here every broadcast is lost; the same caller asks twice, so that
// the second request is not mistaken for the first.
func TestClusterActionTriggerLost(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	holder, other := e.twoReplicas(t, head)
	e.lost.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := 1; round <= 2; round++ {
		e.cloud.stack.tamper("dns", fmt.Sprintf("changed outside %d", round))
		t0 := time.Now()
		if _, err := other.c.Act(ctx, Action{Repo: "r", App: "dns", Action: "reconcile", Caller: "alice"}); err != nil {
			t.Fatalf("Act on %s (not the holder): %v", other.name, err)
		}
		e.eventually(10*time.Second, fmt.Sprintf("manual deploy %d of dns by the holder, its trigger lost", round), func() (bool, string) {
			h := e.history("dns")
			n := 0
			for _, r := range h {
				if r.Reason == state.ReasonManual && r.Outcome == "succeeded" {
					n++
				}
			}
			return n == round, fmt.Sprintf("%d manual deploys in history %+v", n, h)
		})
		t.Logf("round %d: the holder applied dns %s after Act on the other replica", round, time.Since(t0).Round(time.Millisecond))
		if r := e.history("dns")[0]; r.Replica != holder || r.Caller != "alice" {
			t.Errorf("manual deploy record: %+v, want by %s for alice", r, holder)
		}
		if n := e.cloud.plansOf(holder, "dns", t0); n != 1 {
			t.Errorf("round %d: %s planned dns %d times after the action, want 1", round, holder, n)
		}
	}
	if n := e.cloud.plansOf(other.name, "", time.Time{}); n != 0 {
		t.Errorf("%s, which never held the repo lease, planned %d times", other.name, n)
	}
	if o := e.cloud.overlapping(); len(o) > 0 {
		t.Errorf("concurrent applies of one app: %v", o)
	}
}

// TestClusterRepoLeaseLostMidSync: a replica whose repo lease expires
// while it is between plan and apply (a long pause, a partition) must not
// apply its stale plan after the replica that took the lease over has
// deployed the same change.
func TestClusterRepoLeaseLostMidSync(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	rs := map[string]*replica{
		"a": e.start("a", e.urls[0], 200*time.Millisecond),
		"b": e.start("b", e.urls[1], 200*time.Millisecond),
	}
	e.waitSynced(20*time.Second, head, clusterApps...)

	g := e.cloud.block("planned", "dns")
	head = e.src.commit("dns v2", map[string]string{"infra/dns/main.tf": "# dns v2"})
	e.trigger()
	var stale string
	select {
	case stale = <-g.reached:
	case <-time.After(15 * time.Second):
		t.Fatal("no plan of dns")
	}
	// The stale replica holds a plan with changes. Its repo lease goes
	// (as if its TTL passed while it was paused): the other takes over.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.leases.Delete(ctx, repoLeaseKey("r")); err != nil {
		t.Fatal(err)
	}
	e.trigger()
	e.waitSynced(20*time.Second, head, "dns")
	close(g.release)
	// Wait until the stale replica's sync is over.
	rsr := rs[stale].c.repos["r"]
	e.eventually(10*time.Second, "the stale sync ends", func() (bool, string) {
		if rsr.mu.TryLock() {
			rsr.mu.Unlock()
			return true, ""
		}
		return false, "still syncing"
	})
	applied := e.checkOnce()
	if by := applied["dns@"+head]; len(by) != 1 || by[0] == stale {
		t.Errorf("dns@%.7s applied by %v; the stale replica was %s", head, by, stale)
	}
	if st := e.state("dns"); st.Status != state.StatusSynced || st.AppliedRevision != head || st.InFlight != nil {
		t.Errorf("dns state: %+v", st)
	}
	e.checkEvents(e.events())
}

// TestClusterReposShared: replicas share the repos (a fair share each, the
// repos divided among the live replicas), and the survivors take a dead
// replica's share.
func TestClusterReposShared(t *testing.T) {
	testenv.Short(t)
	e := newClusterEnv(t)
	head := e.src.commit("init", baseFiles())
	repos := append([]string{"r"}, e.addRepos(5)...)
	rs := []*replica{
		e.start("a", e.urls[0], 200*time.Millisecond),
		e.start("b", e.urls[1], 200*time.Millisecond),
		e.start("c", e.urls[2], 200*time.Millisecond),
	}
	held := func() map[string]int {
		m := map[string]int{}
		for _, repo := range repos {
			m[e.holder(repoLeaseKey(repo))]++
		}
		return m
	}
	e.eventually(20*time.Second, "two repos per replica", func() (bool, string) {
		m := held()
		return m["a"] == 2 && m["b"] == 2 && m["c"] == 2, fmt.Sprint(m)
	})
	e.waitSynced(10*time.Second, head, clusterApps...)
	e.crash(rs[0])
	e.eventually(20*time.Second, "three repos per survivor", func() (bool, string) {
		m := held()
		return m["b"] == 3 && m["c"] == 3, fmt.Sprint(m)
	})
}
