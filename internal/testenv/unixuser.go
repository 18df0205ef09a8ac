package testenv

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// UnixUser creates a system user called name (no home, no login shell) for
// the test and deletes it at cleanup; it returns the user's uid and primary
// gid. Creating users needs root: when the test does not run as root it is
// Unavailable (skipped, or failed under CI). A leftover user of that name
// is deleted first.
func UnixUser(t testing.TB, name string) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "creating a Unix user needs root")
	}
	if _, err := user.Lookup(name); err == nil {
		_ = exec.Command("userdel", name).Run()
	}
	out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("looking up %s: %v", name, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// SharedExecutable copies the running test binary into a fresh directory
// every user can read and returns its path, so that a child started as
// another user can run it (go test keeps its binary in a directory only
// its owner can enter). The copy is removed at cleanup.
func SharedExecutable(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "driftless-exe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dst := dir + "/" + "test.bin"
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
