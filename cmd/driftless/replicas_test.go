package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

// Two real replicas on a 3-node JetStream cluster; the one applying a
// stack is killed with SIGKILL while Terraform holds the state lock (S3
// backend, DynamoDB lock, on moto). The survivor takes the app over after
// the lease TTL, records the deploy as interrupted, releases the orphaned
// lock (announcing it), applies the commit once more, and deploys the
// next commit; every commit ends applied exactly once by a live replica.
func TestReplicasKill9DuringApply(t *testing.T) {
	testenv.Short(t)
	kill9DuringApply(t)
}

// BenchmarkFailoverKill9 measures the scenario of
// TestReplicasKill9DuringApply: from the SIGKILL of the applying replica to
// the survivor's deploy.started (goal: lease TTL + 5 s) and to its
// deploy.succeeded (which includes the stack's 6 s apply, again).
func BenchmarkFailoverKill9(b *testing.B) {
	for b.Loop() {
		started, succeeded := kill9DuringApply(b)
		b.ReportMetric(started.Seconds(), "to-started-s")
		b.ReportMetric(succeeded.Seconds(), "to-succeeded-s")
	}
}

// kill9DuringApply runs the scenario and returns the failover times.
func kill9DuringApply(t testing.TB) (toStarted, toSucceeded time.Duration) {
	tf := newStateBackend(t)
	urls, _ := testenv.NATSCluster(t, 3)
	all := strings.Join(urls, ",")
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", "stack \"slow\" {\n  path = \"infra/slow\"\n}\n")
	g.Write("infra/slow/main.tf", tf.stack("slow.tfstate", "v1", 6))
	rev1 := g.Commit("v1: a slow apply")
	events := watchEvents(t, all)
	reps := map[string]*replica{}
	for _, name := range []string{"a", "b"} {
		reps[name] = startReplica(t, name, replicaConfig(t, name, all, g.URL(), "  drift_interval = \"0\"\n"))
	}
	first := events.wait(t, "deploy.started", "slow", 90*time.Second, nil)
	victim := instanceOf(first)
	survivor := "a"
	if victim == "a" {
		survivor = "b"
	}
	time.Sleep(2 * time.Second) // Terraform holds the state lock, the local-exec runs
	reps[victim].kill9()
	killed := time.Now()
	t.Logf("killed %s (deploy %s of %s) with SIGKILL", victim, first.Data.DeployID, rev1[:7])

	interrupted := events.wait(t, "deploy.failed", "slow", 60*time.Second, func(ev notify.Event) bool {
		return ev.Data.DeployID == first.Data.DeployID
	})
	if !strings.Contains(interrupted.Data.Error, "interrupted") || instanceOf(interrupted) != survivor {
		t.Errorf("the interrupted deploy was closed by %s with %q", instanceOf(interrupted), interrupted.Data.Error)
	}
	unlocked := events.wait(t, "lock.force_unlocked", "slow", 60*time.Second, nil)
	if unlocked.Data.Extra["interrupted_deploy_id"] != first.Data.DeployID || unlocked.Data.Extra["lock_id"] == "" {
		t.Errorf("lock.force_unlocked = %+v", unlocked.Data)
	}
	again := events.wait(t, "deploy.started", "slow", 60*time.Second, func(ev notify.Event) bool {
		return ev.Data.DeployID != first.Data.DeployID
	})
	done := events.wait(t, "deploy.succeeded", "slow", 60*time.Second, nil)
	toStarted, toSucceeded = again.Time.Sub(killed), done.Time.Sub(killed)
	t.Logf("failover: kill → survivor's deploy.started %s, → deploy.succeeded %s (lease TTL 4s)",
		toStarted.Round(100*time.Millisecond), toSucceeded.Round(100*time.Millisecond))
	if instanceOf(again) != survivor || instanceOf(done) != survivor || done.Data.Revision != rev1 {
		t.Errorf("after the kill: started by %s, succeeded by %s at %s; want %s at %s", instanceOf(again), instanceOf(done), done.Data.Revision, survivor, rev1)
	}

	// The survivor deploys the next commit, once, within 60 s.
	g.Write("infra/slow/main.tf", tf.stack("slow.tfstate", "v2", 0))
	rev2 := g.Commit("v2")
	committed := time.Now()
	events.wait(t, "deploy.succeeded", "slow", 60*time.Second, func(ev notify.Event) bool { return ev.Data.Revision == rev2 })
	t.Logf("next commit deployed %s after it landed", time.Since(committed).Round(100*time.Millisecond))

	starts := map[string]int{}
	for _, ev := range events.all("deploy.started", "slow") {
		starts[ev.Data.Revision]++
	}
	if starts[rev1] != 2 || starts[rev2] != 1 {
		t.Errorf("deploy.started per revision = %v; want v1 twice (the killed deploy and its retry), v2 once", starts)
	}
	if n := len(events.all("deploy.succeeded", "slow")); n != 2 {
		t.Errorf("%d deploy.succeeded, want 2 (v1 once, v2 once)", n)
	}
	hist := historyOf(t, all, "platform", "slow")
	var outcomes []string
	for _, h := range hist {
		outcomes = append(outcomes, h.Revision[:7]+" "+h.Outcome+" by "+h.Replica)
	}
	want := []string{rev2[:7] + " succeeded by " + survivor, rev1[:7] + " succeeded by " + survivor, rev1[:7] + " interrupted by " + victim}
	if strings.Join(outcomes, "; ") != strings.Join(want, "; ") {
		t.Errorf("history = %v, want %v", outcomes, want)
	}
	return toStarted, toSucceeded
}

// The replica reconciling the repo is killed with SIGKILL while drift
// scans run back to back (they plan without the state lock): nothing is
// left locked, and the survivor deploys the next commit within 60 s.
func TestReplicasKill9DuringDriftScans(t *testing.T) {
	testenv.Short(t)
	tf := newStateBackend(t)
	urls, _ := testenv.NATSCluster(t, 3)
	all := strings.Join(urls, ",")
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", "stack \"a1\" {\n  path = \"infra/a1\"\n}\nstack \"a2\" {\n  path = \"infra/a2\"\n}\n")
	g.Write("infra/a1/main.tf", tf.stack("a1.tfstate", "v1", 0))
	g.Write("infra/a2/main.tf", tf.stack("a2.tfstate", "v1", 0))
	g.Commit("two stacks")
	events := watchEvents(t, all)
	reps := map[string]*replica{}
	for _, name := range []string{"a", "b"} {
		reps[name] = startReplica(t, name, replicaConfig(t, name, all, g.URL(), "  drift_interval = \"1s\"\n"))
	}
	events.wait(t, "deploy.succeeded", "a1", 90*time.Second, nil)
	ok := events.wait(t, "deploy.succeeded", "a2", 90*time.Second, nil)
	holder := instanceOf(ok)
	survivor := map[string]string{"a": "b", "b": "a"}[holder]
	// Scans run every second on the holder; kill it in the middle of them.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(reps[holder].logs.String(), "terraform") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	reps[holder].kill9()
	g.Write("infra/a1/main.tf", tf.stack("a1.tfstate", "v2", 0))
	rev2 := g.Commit("v2 of a1")
	committed := time.Now()
	done := events.wait(t, "deploy.succeeded", "a1", 60*time.Second, func(ev notify.Event) bool { return ev.Data.Revision == rev2 })
	if instanceOf(done) != survivor {
		t.Errorf("v2 deployed by %s, want the survivor %s", instanceOf(done), survivor)
	}
	t.Logf("next commit deployed by the survivor %s after it landed", time.Since(committed).Round(100*time.Millisecond))
	if evs := events.all("lock.force_unlocked", "a1"); len(evs) > 0 {
		t.Errorf("a drift scan left a state lock behind: %+v", evs[0].Data)
	}
}

// The applying replica is cut off from NATS (a partition between it and
// the only node it knows) in the middle of an apply. Its lease renewals fail: at half the
// TTL it interrupts Terraform, which is gone before the lease expires. The
// other replica takes over only after that, applies the commit, and the
// history stays consistent: no second apply started while the first ran.
func TestReplicaCutOffFromNATSMidApply(t *testing.T) {
	testenv.Short(t)
	tf := newStateBackend(t)
	urls, _ := testenv.NATSClusterNoAdvertise(t, 3)
	proxy := testenv.StartProxy(t, strings.TrimPrefix(urls[0], "nats://"))
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", "stack \"slow\" {\n  path = \"infra/slow\"\n}\n")
	g.Write("infra/slow/main.tf", tf.stack("slow.tfstate", "v1", 20))
	rev1 := g.Commit("v1: a slow apply")
	events := watchEvents(t, strings.Join(urls[1:], ","))
	a := startReplica(t, "a", replicaConfig(t, "a", "nats://"+proxy.Addr, g.URL(), "  drift_interval = \"0\"\n"))
	first := events.wait(t, "deploy.started", "slow", 90*time.Second, nil)
	if instanceOf(first) != "a" {
		t.Fatalf("deploy.started by %s, want a", instanceOf(first))
	}
	startReplica(t, "b", replicaConfig(t, "b", strings.Join(urls[1:], ","), g.URL(), "  drift_interval = \"0\"\n"))
	time.Sleep(2 * time.Second) // a's Terraform holds the lock, its local-exec runs
	proxy.Cut()
	cut := time.Now()

	again := events.wait(t, "deploy.started", "slow", 90*time.Second, func(ev notify.Event) bool { return instanceOf(ev) == "b" })
	done := events.wait(t, "deploy.succeeded", "slow", 90*time.Second, nil)
	t.Logf("cut off → b's deploy.started %s, → deploy.succeeded %s", again.Time.Sub(cut).Round(100*time.Millisecond), done.Time.Sub(cut).Round(100*time.Millisecond))
	if instanceOf(done) != "b" || done.Data.Revision != rev1 {
		t.Errorf("deploy.succeeded by %s at %s, want b at %s", instanceOf(done), done.Data.Revision, rev1)
	}
	// a stopped its deploy, and said so, before b started its own.
	stopped, ok := logTime(a.logs.String(), "deploy stopped: this replica no longer holds the app")
	if !ok {
		t.Fatalf("a never stopped its deploy")
	}
	if !stopped.Before(again.Time) {
		t.Errorf("b started its deploy at %s while a's apply still ran (a stopped at %s)", again.Time, stopped)
	}
	if n := len(events.all("deploy.succeeded", "slow")); n != 1 {
		t.Errorf("%d deploy.succeeded, want 1", n)
	}
	var outcomes []string
	for _, h := range historyOf(t, strings.Join(urls[1:], ","), "platform", "slow") {
		outcomes = append(outcomes, h.Outcome+" by "+h.Replica)
	}
	if strings.Join(outcomes, "; ") != "succeeded by b; interrupted by a" {
		t.Errorf("history = %v, want [succeeded by b; interrupted by a]", outcomes)
	}
}

// logTime is the time of the first JSON log line whose msg is msg.
func logTime(logs, msg string) (time.Time, bool) {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg {
			return rec.Time, true
		}
	}
	return time.Time{}, false
}
