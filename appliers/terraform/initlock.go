package terraform

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Terraform's plugin cache is not safe for concurrent `terraform init`: two
// inits installing the same provider into it race (observed: "failed to
// create directory …: file exists", "after installing … it is still not
// detected in …/plugin-cache; this is a bug in Terraform"). driftless keeps
// the shared cache (one ≈700 MB AWS provider on disk, not one per stack) and
// serialises the inits that may write to it instead.
//
// An init that only reads the cache runs alongside others: one whose
// dependency lock file (in the stack's directory before init) is one an
// earlier init of this process left behind after a success. Every provider
// it lists is then in the cache with a checksum the lock file holds, and
// Terraform links it from there without writing to the cache. Such inits
// take the lock shared; the others take it exclusive. So 100 stacks with
// one lock file install the provider once, then initialise in parallel. A
// shared init that fails forgets its lock file: the retry is exclusive.
//
// Two levels: a process-wide readers–writer semaphore per cache directory
// (goroutines of one daemon), and an flock(2) on initLockName inside the
// cache, LOCK_SH or LOCK_EX (several daemon processes on one host sharing
// the cache). The flock is released by the kernel when the process dies, so
// a killed daemon never leaves it held.

// initLockName is the lock file in the plugin cache directory.
const initLockName = ".driftless-init.lock"

// initLockPoll is how often a waiting init retries a held flock.
const initLockPoll = 100 * time.Millisecond

// exclusiveWeight is what an exclusive holder takes of a cache's semaphore
// (a shared one takes 1): more than any number of concurrent inits.
const exclusiveWeight = 1 << 30

// pluginCache is the process-wide state of one cache directory.
type pluginCache struct {
	sem    *semaphore.Weighted
	mu     sync.Mutex
	cached map[string]bool // lock file hashes whose providers are all in the cache
}

var (
	cachesMu sync.Mutex
	caches   = map[string]*pluginCache{}
)

func cacheOf(dir string) *pluginCache {
	cachesMu.Lock()
	defer cachesMu.Unlock()
	c, ok := caches[dir]
	if !ok {
		c = &pluginCache{sem: semaphore.NewWeighted(exclusiveWeight), cached: map[string]bool{}}
		caches[dir] = c
	}
	return c
}

// lockFileKey hashes the dependency lock file of a Terraform directory; ""
// when there is none.
func lockFileKey(tfDir string) string {
	b, err := os.ReadFile(filepath.Join(tfDir, ".terraform.lock.hcl"))
	if err != nil || len(b) == 0 {
		return ""
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// cachedLockFile reports whether an init with this lock file (lockFileKey)
// only reads the plugin cache dir.
func cachedLockFile(dir, key string) bool {
	if dir == "" || key == "" {
		return false
	}
	c := cacheOf(dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cached[key]
}

// setCachedLockFile records (or, with false, forgets) that every provider
// of a lock file is in the plugin cache dir.
func setCachedLockFile(dir, key string, ok bool) {
	if dir == "" || key == "" {
		return
	}
	c := cacheOf(dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.cached[key] = true
	} else {
		delete(c.cached, key)
	}
}

// lockPluginCache waits until this goroutine may run an init that uses the
// plugin cache dir — alone, or alongside other shared holders — in this
// process and among processes on this host, or ctx ends. An empty dir (no
// shared cache) needs no lock.
func lockPluginCache(ctx context.Context, dir string, shared bool) (unlock func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	sem := cacheOf(dir).sem
	weight := int64(exclusiveWeight)
	if shared {
		weight = 1
	}
	if err := sem.Acquire(ctx, weight); err != nil {
		return nil, fmt.Errorf("waiting for the plugin cache lock: %w", context.Cause(ctx))
	}
	release := func() { sem.Release(weight) }
	f, err := os.OpenFile(filepath.Join(dir, initLockName), os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		release()
		return nil, fmt.Errorf("opening the plugin cache lock: %w", err)
	}
	for {
		ok, err := tryFlock(f, shared)
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
