package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/kv"
)

// LeaseBucket is the JetStream KV bucket of leases.
const LeaseBucket = "DRIFTLESS_LEASES"

// DefaultLeaseTTL is how long a lease outlives a replica that stopped renewing it.
const DefaultLeaseTTL = 15 * time.Second

// Leases is what the controller needs of a lease store; *kv.Bucket opened
// with LimitMarkerTTL (OpenLeases) provides it.
type Leases interface {
	Acquire(ctx context.Context, key, holder string, ttl time.Duration) (*kv.Lease, error)
	Renew(ctx context.Context, l *kv.Lease, ttl time.Duration) error
	Release(ctx context.Context, l *kv.Lease) error
}

// OpenLeases creates or opens the lease bucket.
func OpenLeases(ctx context.Context, js jetstream.JetStream, replicas int) (*kv.Bucket, error) {
	b, err := kv.Open(ctx, js, LeaseBucket, kv.Options{Replicas: replicas, LimitMarkerTTL: true})
	if err != nil {
		return nil, fmt.Errorf("opening leases: %w", err)
	}
	return b, nil
}

// heldLease is a lease kept alive by a renewer until released; lost is
// closed when a renewal found it taken or expired, or when renewals kept
// failing for half the TTL (the holder must stop its work then: the lease
// may expire, and another replica take over, before it is renewed).
type heldLease struct {
	l      *kv.Lease
	cancel context.CancelFunc
	done   chan struct{}
	lost   chan struct{}
	once   sync.Once
}

func (h *heldLease) isLost() bool {
	select {
	case <-h.lost:
		return true
	default:
		return false
	}
}

// valid reports whether the holder may still act under the lease. A nil
// lease (single replica, no leases) is always valid.
func (h *heldLease) valid() bool { return h == nil || !h.isLost() }

func (h *heldLease) markLost() { h.once.Do(func() { close(h.lost) }) }

// bind returns a context that ends when ctx does or when the lease stops
// being valid: work under the lease stops at its next safe point
// (Terraform gets SIGINT and finishes its current operation).
func (h *heldLease) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if h == nil {
		return ctx, cancel
	}
	go func() {
		select {
		case <-h.lost:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (c *Controller) leaseTTL() time.Duration {
	if c.opt.LeaseTTL > 0 {
		return c.opt.LeaseTTL
	}
	return DefaultLeaseTTL
}

// hold acquires key and renews it every third of the TTL until release. A
// renewal that fails for a passing reason (NATS unreachable, a timeout) is
// retried every second; when none succeeded for half the TTL the lease is
// treated as lost. It returns an error wrapping kv.ErrHeld when another
// process holds it.
func (c *Controller) hold(ctx context.Context, key string) (*heldLease, error) {
	ttl := c.leaseTTL()
	l, err := c.opt.Leases.Acquire(ctx, key, c.holder, ttl)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &heldLease{l: l, cancel: cancel, done: make(chan struct{}), lost: make(chan struct{})}
	go func() {
		defer close(h.done)
		renewed := time.Now()
		wait := ttl / 3
		for {
			t := time.NewTimer(wait)
			select {
			case <-rctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			octx, ocancel := context.WithTimeout(rctx, max(ttl/6, time.Second))
			err := c.opt.Leases.Renew(octx, l, ttl)
			ocancel()
			switch {
			case err == nil:
				renewed, wait = time.Now(), ttl/3
				continue
			case errors.Is(err, kv.ErrLost):
				c.log.Warn("lease lost", "lease", key, "holder", c.holder)
				h.markLost()
				return
			case rctx.Err() != nil:
				return
			}
			if time.Since(renewed) >= ttl/2 {
				c.log.Warn("lease not renewed for half its TTL: stopping the work it covers", "lease", key, "holder", c.holder, "error", err)
				h.markLost()
				return
			}
			c.log.Warn("renewing a lease", "lease", key, "error", err)
			wait = min(time.Second, ttl/6)
		}
	}()
	return h, nil
}

// release stops renewing and frees the lease.
func (c *Controller) release(h *heldLease) {
	if h == nil {
		return
	}
	h.cancel()
	<-h.done
	if h.isLost() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.opt.Leases.Release(ctx, h.l); err != nil && !errors.Is(err, kv.ErrLost) {
		c.log.Warn("releasing a lease", "lease", h.l.Key, "error", err)
	}
}

func repoLeaseKey(repo string) string     { return kv.Key("repo", repo) }
func appLeaseKey(repo, app string) string { return kv.Key("app", repo, app) }

// ownRepo makes sure this replica holds the repo's lease, taking it when
// free. It reports whether this replica may reconcile the repo now.
func (c *Controller) ownRepo(ctx context.Context, rs *repoState) bool {
	if c.opt.Leases == nil {
		return true
	}
	if rs.lease != nil && !rs.lease.isLost() {
		return true
	}
	if rs.lease != nil {
		c.release(rs.lease)
		rs.lease = nil
		c.held.Add(-1)
	}
	if share := c.fairShare(ctx); share > 0 && int(c.held.Load()) >= share {
		rs.polled.Store(true) // another replica, below its share, takes it
		return false
	}
	h, err := c.hold(ctx, repoLeaseKey(rs.cfg.Name))
	if err != nil {
		var held *kv.HeldError
		if errors.As(err, &held) {
			if !rs.follower {
				c.log.Info("another replica reconciles this repo", "repo", rs.cfg.Name, "holder", held.Holder)
				rs.follower = true
			}
		} else if ctx.Err() == nil {
			c.log.Warn("taking the repo lease", "repo", rs.cfg.Name, "error", err)
		}
		rs.polled.Store(true) // ready: the repo is being polled, by another replica
		return false
	}
	c.log.Info("this replica now reconciles the repo", "repo", rs.cfg.Name)
	rs.lease, rs.follower = h, false
	rs.pass = passRecord{} // another replica may have worked on it: run every app
	rs.marksFresh = false
	rs.forgotten = false // and look for the state of removed apps
	c.held.Add(1)
	// Another replica may have applied the repo's apps since this one last
	// did: outputs cached then are stale (read them again from the appliers).
	c.forgetOutputs(rs.cfg.Name)
	return true
}

// errAppLeased is returned when another replica is applying the app.
var errAppLeased = errors.New("another replica is applying this app")

// holdApp takes the app's lease for a deploy (nil lease in single-replica mode).
func (c *Controller) holdApp(ctx context.Context, repo, app string) (*heldLease, error) {
	if c.opt.Leases == nil {
		return nil, nil
	}
	h, err := c.hold(ctx, appLeaseKey(repo, app))
	if err != nil {
		var held *kv.HeldError
		if errors.As(err, &held) {
			return nil, fmt.Errorf("%w (%s)", errAppLeased, held.Holder)
		}
		return nil, err
	}
	return h, nil
}

// forgetOutputs drops the cached outputs of repo's apps.
func (c *Controller) forgetOutputs(repo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.outputs {
		if strings.HasPrefix(k, repo+"/") {
			delete(c.outputs, k)
		}
	}
}

// replicaLeaseKey is the presence lease a running replica holds: the
// number of live replicas sizes each one's share of the repos.
func replicaLeaseKey(instance string) string { return kv.Key("replica", instance) }

// keyLister is implemented by lease stores that list keys (*kv.Bucket).
type keyLister interface {
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// fairShare is how many repo leases this replica takes at most: the repos
// divided among the live replicas, rounded up, so that together they can
// hold every repo. 0 means no limit (one replica, or the count is unknown).
// It is read at most once per lease renewal period.
func (c *Controller) fairShare(ctx context.Context) int {
	kl, ok := c.opt.Leases.(keyLister)
	if !ok {
		return 0
	}
	c.shareMu.Lock()
	defer c.shareMu.Unlock()
	if now := time.Now(); now.Sub(c.shareAt) >= c.leaseTTL()/3 {
		keys, err := kl.Keys(ctx, kv.Key("replica")+".")
		c.share, c.shareAt = 0, now
		if err == nil && len(keys) > 0 {
			c.share = (len(c.names) + len(keys) - 1) / len(keys)
		}
	}
	return c.share
}

// shed gives up the repo's lease when this replica holds more than its
// share (replicas started after it took them): a replica below its share
// takes the repo over at its next tick.
func (c *Controller) shed(ctx context.Context, rs *repoState) {
	if rs.lease == nil || ctx.Err() != nil {
		return
	}
	share := c.fairShare(ctx)
	for {
		n := c.held.Load()
		if share == 0 || int(n) <= share {
			return
		}
		if c.held.CompareAndSwap(n, n-1) {
			break
		}
	}
	c.log.Info("handing the repo over to another replica: this one holds more than its share", "repo", rs.cfg.Name, "share", share)
	c.release(rs.lease)
	rs.lease = nil
}
