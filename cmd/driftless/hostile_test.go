package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

// Hostile commits against a real `driftless run` process: evaluation
// bombs are each rejected (source.invalid with a file:line:col diagnostic),
// the process's peak memory stays far below 1 GiB, and it goes on
// deploying the next good commit.
func TestHostileCommitsAgainstTheDaemon(t *testing.T) {
	testenv.Short(t)
	urls, _ := testenv.NATSCluster(t, 3)
	all := strings.Join(urls, ",")
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", "stack \"web\" {\n  path = \"infra/web\"\n}\n")
	g.Write("infra/web/main.tf", "resource \"terraform_data\" \"r\" {\n  input = \"v1\"\n}\n")
	g.Commit("a good start")
	events := watchEvents(t, all)
	r := startReplica(t, "solo", replicaConfig(t, "solo", all, g.URL(), "  drift_interval = \"0\"\n"))
	events.wait(t, "deploy.succeeded", "web", 90*time.Second, nil)

	big := make([]byte, 20<<20) // a 20 MiB file in the repository
	bombs := []struct{ name, hcl string }{
		{"nested for", `stack "bomb" {
  path = "infra/web"
  vars = { x = [for i in range(1024) : [for j in range(1024) : j]] }
}
`},
		{"three levels", `stack "bomb" {
  path = "infra/web"
  vars = { x = [for i in range(1024) : [for j in range(1024) : [for k in range(1024) : k]]] }
}
`},
		{"format width", `stack "bomb" {
  path = "infra/web"
  vars = { x = format("%100000000s", "x") }
}
`},
		{"big file", `stack "bomb" {
  path = "infra/web"
  vars = { x = file("blob.bin") }
}
`},
	}
	for _, b := range bombs {
		if b.name == "big file" {
			g.Write("blob.bin", string(big))
		}
		g.Write("deploy/bomb.hcl", b.hcl)
		sha := g.Commit("hostile: " + b.name)
		start := time.Now()
		ev := events.wait(t, "source.invalid", "", 2*time.Minute, func(ev notify.Event) bool { return ev.Data.Revision == sha })
		pos := false
		for _, d := range ev.Data.Diagnostics {
			pos = pos || strings.Contains(d, "deploy/bomb.hcl:")
		}
		if !pos {
			t.Errorf("%s: no file:line:col diagnostic in %q", b.name, ev.Data.Diagnostics)
		}
		t.Logf("%s: rejected in %s: %s", b.name, time.Since(start).Round(10*time.Millisecond), strings.Join(ev.Data.Diagnostics, "; "))
	}
	peak := vmHWM(t, r.cmd.Process.Pid)
	t.Logf("daemon peak RSS through the bombs: %d MiB", peak>>20)
	if peak > 1<<30 {
		t.Errorf("peak RSS %d MiB, want far below 1 GiB", peak>>20)
	}
	// The daemon is alive and keeps deploying.
	g.Remove("deploy/bomb.hcl")
	g.Write("infra/web/main.tf", "resource \"terraform_data\" \"r\" {\n  input = \"v2\"\n}\n")
	fixed := g.Commit("fixed")
	events.wait(t, "deploy.succeeded", "web", 90*time.Second, func(ev notify.Event) bool { return ev.Data.Revision == fixed })
}

// vmHWM is the peak resident set size of process pid, in bytes.
func vmHWM(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
