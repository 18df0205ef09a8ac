//go:build linux

package terraform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/driftless/driftless/appliers"
)

// TestDriftLockHeld: while another process holds the local state's lock
// (Terraform's local backend takes an fcntl write lock on the state file,
// as this test does), a plan fails as Transient, and a drift check, which
// plans with -lock=false, is not held up by it.
func TestDriftLockHeld(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/drifty/main.tf": driftMain})
	spec := decodeStack(t, a, repo.Tree(), driftBlock, nil)
	req := request("drifty", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))

	root, _ := a.WorkDirOf("platform", "drifty")
	f, err := os.OpenFile(filepath.Join(root, srcDir, "infra/drifty/terraform.tfstate"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}); err != nil {
		t.Fatalf("locking the state: %v", err)
	}
	_, err = a.Plan(context.Background(), req)
	if ok, _ := appliers.IsTransient(err); !ok || !strings.Contains(err.Error(), "state lock") {
		t.Fatalf("plan against a held lock: %v, want a Transient lock error", err)
	}
	if r, b := mustDrift(t, a, req, nil); r.Drifted() {
		t.Errorf("drift while the lock is held: %s", b)
	}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_UNLCK}); err != nil {
		t.Fatal(err)
	}
	if r, b := mustDrift(t, a, req, nil); r.Drifted() {
		t.Errorf("drift after the lock was released: %s", b)
	}
}
