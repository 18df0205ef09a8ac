//go:build unix

package terraform

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPluginCacheLockSharedAndExclusive: inits that only read the plugin
// cache hold its lock together; one that may write waits for them and
// keeps them out, in this process and against another process's flock.
func TestPluginCacheLockSharedAndExclusive(t *testing.T) {
	dir := t.TempDir()
	bg := context.Background()
	try := func(shared bool) (func(), bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, 3*initLockPoll)
		defer cancel()
		unlock, err := lockPluginCache(ctx, dir, shared)
		if err != nil {
			return nil, false
		}
		return unlock, true
	}

	r1, ok1 := try(true)
	r2, ok2 := try(true)
	if !ok1 || !ok2 {
		t.Fatal("two shared holders: one had to wait")
	}
	if _, ok := try(false); ok {
		t.Fatal("exclusive lock taken while shared holders hold it")
	}
	r1()
	r2()
	w, ok := try(false)
	if !ok {
		t.Fatal("exclusive lock not taken once the shared holders left")
	}
	if _, ok := try(true); ok {
		t.Fatal("shared lock taken while an exclusive holder holds it")
	}
	w()

	// Another process (another open file description) holding the flock.
	f, err := os.OpenFile(filepath.Join(dir, initLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	r, ok := try(true)
	if !ok {
		t.Fatal("shared lock not taken beside another process's shared flock")
	}
	r()
	if _, ok := try(false); ok {
		t.Fatal("exclusive lock taken while another process holds a shared flock")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, ok := try(true); ok {
		t.Fatal("shared lock taken while another process holds an exclusive flock")
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if w, ok := try(false); !ok {
		t.Fatal("exclusive lock not taken once the other process let go")
	} else {
		w()
	}
}

// TestCachedLockFile: a lock file is known cached once recorded, per cache
// directory, and forgotten on request; no lock file is never cached.
func TestCachedLockFile(t *testing.T) {
	cache, other, tfDir := t.TempDir(), t.TempDir(), t.TempDir()
	if k := lockFileKey(tfDir); k != "" {
		t.Fatalf("key without a lock file = %q", k)
	}
	if err := os.WriteFile(filepath.Join(tfDir, ".terraform.lock.hcl"), []byte("provider \"x\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := lockFileKey(tfDir)
	if k == "" || cachedLockFile(cache, k) {
		t.Fatalf("key %q cached before any init", k)
	}
	setCachedLockFile(cache, k, true)
	if !cachedLockFile(cache, k) || cachedLockFile(other, k) || cachedLockFile("", k) || cachedLockFile(cache, "") {
		t.Fatal("cached lock file not recorded for its cache alone")
	}
	setCachedLockFile(cache, k, false)
	if cachedLockFile(cache, k) {
		t.Fatal("lock file still cached after a failed shared init")
	}
}
