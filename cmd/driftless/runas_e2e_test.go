package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/state"
)

// A daemon (this process, root) with terraform.run_as: Terraform starts
// through the driftless executable (here the test binary, whose TestMain
// calls dropexec.Main as main does) and runs as the user. A stack deploys;
// a stack whose code reads the daemon's environment fails with permission
// denied, and the API token in that environment appears in no app state,
// event or log line.
func TestE2ERunAs(t *testing.T) {
	testenv.Short(t)
	uid, gid := testenv.UnixUser(t, "driftless-tf-e2e")
	top, err := os.MkdirTemp("", "driftless-e2e-runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o711); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(top, "state")
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)

	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", "stack \"network\" {\n  path = \"infra/network\"\n}\n\nstack \"leak\" {\n  path = \"infra/leak\"\n}\n")
	g.Write("infra/network/main.tf", networkTF)
	g.Write("infra/leak/main.tf", fmt.Sprintf("output \"env\" {\n  value = file(\"/proc/%d/environ\")\n}\n", os.Getpid()))
	rev := g.Commit("network and a stack reading the daemon's environment")

	cfg := replaceOnce(t, daemonConfig(t, stateDir, g.URL(), ""), "terraform {\n", "terraform {\n  run_as = \"driftless-tf-e2e\"\n")
	cfgPath := writeFile(t, top, "driftless.hcl", cfg)
	h := startE2E(t, cfgPath, map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	h.waitSynced(rev, "platform/network")
	var leak state.AppState
	h.waitFor(90*time.Second, "platform/leak failed", func() bool {
		leak = h.apps()["platform/leak"]
		return leak.Status == state.StatusFailed
	})
	if msg := strings.Join(strings.Fields(leak.LastError), " "); !strings.Contains(msg, "permission denied") {
		t.Errorf("leak: last error does not say permission denied: %s", leak.LastError)
	}

	tfState := filepath.Join(stateDir, "terraform", "platform", "network", "src", "infra", "network", "terraform.tfstate")
	fi, err := os.Stat(tfState)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("network state owned by %d:%d, want the run_as user %d:%d", st.Uid, st.Gid, uid, gid)
	}
	for _, p := range []string{"nats", "git", "outbox"} {
		if fi, err := os.Stat(filepath.Join(stateDir, p)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("state_dir/%s: %v %v, want 0700", p, fi.Mode().Perm(), err)
		}
	}

	apps, _ := json.Marshal(h.apps())
	evs, _ := json.Marshal(h.events())
	h.stop()
	for what, s := range map[string]string{"app states": string(apps), "events": string(evs), "logs": h.logs.String()} {
		if strings.Contains(s, testToken) {
			t.Errorf("%s contain the API token", what)
		}
	}
}
