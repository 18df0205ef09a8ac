//go:build unix

package sources

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// dirLockName is the lock file in a bare clone (see dirLock).
const dirLockName = "driftless.lock"

// dirLock is a process's hold on a bare clone: a shared flock for as long
// as its Repo lives. Another driftless process may have the same clone
// open (`driftless plan` beside the daemon, on the same state_dir): it
// fetches into it and reads the packs it listed. Deleting files there,
// the pack merge and the clean-up of what a crash left, is done only
// alone: under an exclusive flock, which no other process's shared one
// allows.
type dirLock struct{ f *os.File }

// openDirLock takes the shared lock on dir's lock file; it is released
// when the Repo holding it is garbage.
func openDirLock(dir string) (*dirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, dirLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	l := &dirLock{f: f}
	if err := l.flock(syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return l, nil
}

// alone runs fn under the exclusive lock when no other process holds the
// clone open, and reports whether it did. The shared lock is held again
// when it returns. (flock converts a lock by dropping it first, so the
// shared lock is taken anew either way.)
func (l *dirLock) alone(fn func()) (bool, error) {
	err := l.flock(syscall.LOCK_EX | syscall.LOCK_NB)
	ran := err == nil
	if ran {
		fn()
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return false, fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	if err := l.flock(syscall.LOCK_SH); err != nil {
		return ran, fmt.Errorf("lock %s: %w", l.f.Name(), err)
	}
	return ran, nil
}

func (l *dirLock) flock(how int) error {
	for {
		err := syscall.Flock(int(l.f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// holdDirLock ties l to r: the lock file is closed when r is garbage.
func holdDirLock(r *Repo, l *dirLock) {
	r.lock = l
	runtime.AddCleanup(r, func(f *os.File) { f.Close() }, l.f)
}
