package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Terraform's plugin cache is not safe for concurrent `terraform init`: two
// inits installing the same provider into it race (observed: "failed to
// create directory …: file exists", "after installing … it is still not
// detected in …/plugin-cache; this is a bug in Terraform"). driftless keeps
// the shared cache (one ≈700 MB AWS provider on disk, not one per stack) and
// serialises the inits that use it instead: inits are rare (only when the
// init fingerprint changed) and short (≈1 s from a mirror), while giving each
// stack its own cache would cost disk and download time on every first init.
//
// Two levels: a process-wide mutex per cache directory (goroutines of one
// daemon), and an flock(2) on initLockName inside the cache (several daemon
// processes on one host sharing the cache). The flock is released by the
// kernel when the process dies, so a killed daemon never leaves it held.

// initLockName is the lock file in the plugin cache directory.
const initLockName = ".driftless-init.lock"

// initLockPoll is how often a waiting init retries a held flock.
const initLockPoll = 100 * time.Millisecond

var (
	cacheLocksMu sync.Mutex
	cacheLocks   = map[string]chan struct{}{}
)

// cacheLock returns the process-wide lock of a cache directory: a channel
// with room for one token, so that waiting can be cancelled.
func cacheLock(dir string) chan struct{} {
	cacheLocksMu.Lock()
	defer cacheLocksMu.Unlock()
	ch, ok := cacheLocks[dir]
	if !ok {
		ch = make(chan struct{}, 1)
		cacheLocks[dir] = ch
	}
	return ch
}

// lockPluginCache waits until this goroutine is the only init using the
// plugin cache dir, in this process and among processes on this host, or
// ctx ends. An empty dir (no shared cache) needs no lock.
func lockPluginCache(ctx context.Context, dir string) (unlock func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	ch := cacheLock(dir)
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the plugin cache lock: %w", context.Cause(ctx))
	}
	release := func() { <-ch }
	f, err := os.OpenFile(filepath.Join(dir, initLockName), os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		release()
		return nil, fmt.Errorf("opening the plugin cache lock: %w", err)
	}
	for {
		ok, err := tryFlock(f)
		if err != nil {
			f.Close()
			release()
			return nil, fmt.Errorf("locking the plugin cache: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-time.After(initLockPoll):
		case <-ctx.Done():
			f.Close()
			release()
			return nil, fmt.Errorf("waiting for the plugin cache lock: %w", context.Cause(ctx))
		}
	}
	return func() {
		unflock(f)
		f.Close()
		release()
	}, nil
}

// installRetry is the retry hint after a provider or module installation
// failure that is not the configuration's fault.
const installRetry = 20 * time.Second

var (
	// installMarkers are provider installer and registry failures that a
	// later init can get past: a race in the plugin cache (another host
	// process without driftless's lock), a registry or mirror unreachable.
	installMarkers = []string{
		"Error while installing",
		"Failed to install provider",
		"Failed to install provider from shared cache",
		"could not query provider registry",
		"could not connect to registry",
		"Failed to retrieve available versions",
		"this is a bug in Terraform",
		"text file busy",
	}
	// installPermanent are installer failures of the configuration itself:
	// retrying cannot help.
	installPermanent = []string{
		"doesn't match any of the checksums",
		"does not match any of the checksums",
		"does not have a provider named",
		"no available releases match",
		"Invalid provider registry host",
		"Unsupported provider",
		"Incompatible provider version",
		"Invalid module source",
		"Module not found",
	}
)

// installFailure reports whether raw is a provider or module installation
// failure worth retrying.
func installFailure(raw string) bool {
	return containsAny(raw, installMarkers) && !containsAny(raw, installPermanent)
}
