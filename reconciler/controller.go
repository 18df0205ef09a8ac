package reconciler

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// Source is what the controller needs of a watched repository.
type Source interface {
	Poll(ctx context.Context) (*sources.Revision, bool, error)
	Revision(ctx context.Context, rev string) (*sources.Revision, error)
	ChangedPaths(ctx context.Context, from, to string) ([]string, error)
	IsAncestor(ctx context.Context, a, b string) (bool, error)
}

// Puller is implemented by sources that can poll a branch that most
// likely moved in one round trip (sources.Repo.Pull): the controller uses
// it when triggered (a webhook, an action), Poll on its interval.
type Puller interface {
	Pull(ctx context.Context) (*sources.Revision, bool, error)
}

// Reverter is implemented by sources that can push a revert commit
// (driftless rollback --revert).
type Reverter interface {
	Revert(ctx context.Context, opts sources.RevertOptions) (*sources.Revision, error)
}

// Emitter publishes events; it must not lose them (see notify.Publisher).
type Emitter interface {
	Emit(ctx context.Context, category, action string, d notify.Data) notify.Event
}

// Repo is one watched repository.
type Repo struct {
	Name          string
	URL           string // for links in events; never carries credentials
	Path          string // manifest directory, repo-relative
	Interval      time.Duration
	DriftInterval time.Duration
	Source        Source
}

// Options configure a Controller.
type Options struct {
	Instance    string
	Loader      *manifest.Loader
	Store       state.Store
	Events      Emitter
	Metrics     *metrics.Metrics // may be nil
	MaxParallel int              // apps reconciled at once per repo (default 4)
	Log         *slog.Logger
	// Leases coordinate replicas sharing one NATS: a lease per repo (who
	// polls and reconciles it) and per app (who applies it). nil: a single
	// replica, no leases.
	Leases Leases
	// LeaseTTL is how long a lease outlives its holder (default 15s).
	LeaseTTL time.Duration
	// Holder identifies this process as a lease holder and in deploy
	// records. It must be unique per process; default: Instance, the
	// process id and a random suffix.
	Holder string
	// TakeoverGrace is how long a replica that took over the app lease of
	// a deploy interrupted on another process waits before planning it
	// again (default 2s): time for a process cut off from NATS, which stops
	// its work when its lease renewals fail, to finish stopping.
	TakeoverGrace time.Duration
	// Broadcast tells the other replicas that repo has work (an API
	// action): the lease holder's loop runs at once. nil: single replica.
	// A broadcast lost on its way is made up for when the Store is a
	// state.Watcher: the holder watches it for actions (see watchActions).
	Broadcast func(repo string)
	// Drift tracks drift lifecycles; nil disables drift scans.
	Drift *drift.Tracker
	// Connected reports whether the backing store is reachable (readiness).
	Connected func() bool
	// Scrub removes secret values from text that leaves the process
	// (errors in state and events). nil: identity.
	Scrub func(string) string
	// AddSecrets tells the redactor behind Scrub about more secret values:
	// sensitive outputs of apps, which other apps may reference. nil: none.
	AddSecrets func(secrets ...string)
	// Now and Jitter are injected by tests; defaults: time.Now and ±10 %.
	Now    func() time.Time
	Jitter func(time.Duration) time.Duration
}

// Controller reconciles every configured repository.
type Controller struct {
	opt    Options
	log    *slog.Logger
	holder string // opt.Holder: unique per process
	who    string // user@host, as Terraform names a state lock's holder
	repos  map[string]*repoState
	names  []string

	mu       sync.Mutex
	outputs  map[string]map[string]appliers.Output // repo/app → outputs of its last apply
	status   map[string]string                     // repo/app → status, for the apps gauge
	pending  map[string]*pendingPlan               // repo/app → plan awaiting approval
	lastApps []state.AppState                      // last app list read, served while the store is unreachable

	held    atomic.Int32 // repo leases this replica holds
	shareMu sync.Mutex
	share   int       // fair share of repo leases (see fairShare)
	shareAt time.Time // when share was computed
}

// New returns a controller for repos. Run starts it.
func New(opt Options, repos []Repo) (*Controller, error) {
	if opt.Loader == nil || opt.Store == nil || opt.Events == nil {
		return nil, errors.New("reconciler: Loader, Store and Events are required")
	}
	if opt.MaxParallel <= 0 {
		opt.MaxParallel = 4
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Jitter == nil {
		opt.Jitter = func(d time.Duration) time.Duration {
			return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
		}
	}
	if opt.Scrub == nil {
		opt.Scrub = func(s string) string { return s }
	}
	if opt.Connected == nil {
		opt.Connected = func() bool { return true }
	}
	if opt.Holder == "" {
		opt.Holder = NewHolder(opt.Instance)
	}
	if opt.TakeoverGrace == 0 {
		opt.TakeoverGrace = 2 * time.Second
	}
	c := &Controller{opt: opt, log: opt.Log, holder: opt.Holder, who: lockOwner(), repos: map[string]*repoState{},
		outputs: map[string]map[string]appliers.Output{}, status: map[string]string{}, pending: map[string]*pendingPlan{}}
	for _, r := range repos {
		if _, dup := c.repos[r.Name]; dup {
			return nil, fmt.Errorf("reconciler: repo %q configured twice", r.Name)
		}
		if r.Interval <= 0 {
			r.Interval = time.Minute
		}
		c.repos[r.Name] = &repoState{cfg: r, trigger: make(chan struct{}, 1),
			scanned: map[string]time.Time{}, started: opt.Now(), driftKick: make(chan struct{}, 1)}
		c.names = append(c.names, r.Name)
	}
	return c, nil
}

// NewHolder returns a lease holder id unique to this process: instance,
// the process id and a random suffix, so that two processes configured
// with one instance name never take each other's leases or deploys.
func NewHolder(instance string) string {
	b := make([]byte, 4)
	_, _ = crand.Read(b)
	return fmt.Sprintf("%s/%d-%s", instance, os.Getpid(), hex.EncodeToString(b))
}

// Run recovers deploys interrupted by a previous crash, then runs one loop
// per repository until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.recoverInterrupted(ctx)
	if c.opt.Leases != nil {
		// Presence: the replicas share the repos among those holding one.
		h, err := c.hold(ctx, replicaLeaseKey(c.holder))
		if err != nil {
			c.log.Warn("registering this replica", "holder", c.holder, "error", err)
		}
		defer c.release(h)
	}
	var wg sync.WaitGroup
	if w, ok := c.opt.Store.(state.Watcher); ok && c.opt.Leases != nil {
		// Actions recorded by other replicas reach this one through the
		// store too, not only through their trigger broadcast.
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.watchActions(ctx, w)
		}()
	}
	for _, name := range c.names {
		rs := c.repos[name]
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.loop(ctx, rs)
		}()
		go func() {
			defer wg.Done()
			c.driftLoop(ctx, rs)
		}()
	}
	wg.Wait()
	return nil
}

// Trigger asks the loop of repo to poll now. It never blocks.
func (c *Controller) Trigger(repo string) bool {
	rs, ok := c.repos[repo]
	if !ok {
		return false
	}
	select {
	case rs.trigger <- struct{}{}:
	default:
	}
	return true
}

// SyncOnce polls repo and reconciles its apps once, synchronously: for
// tests, benchmarks and one-shot commands.
func (c *Controller) SyncOnce(ctx context.Context, repo string) error {
	rs, ok := c.repos[repo]
	if !ok {
		return fmt.Errorf("%w: repo %q", state.ErrNotFound, repo)
	}
	rs.mu.Lock()
	err := c.sync(ctx, rs, true)
	rs.mu.Unlock()
	if err != nil {
		return err
	}
	// Synchronously, the drift checks that are due (the daemon runs them
	// in the repo's drift lane).
	rs.dmu.Lock()
	defer rs.dmu.Unlock()
	c.scanDrift(ctx, rs, false)
	return nil
}

// Ready reports whether the store is reachable and every repo was polled once.
func (c *Controller) Ready() (bool, string) {
	if !c.opt.Connected() {
		return false, "NATS is not connected"
	}
	for _, name := range c.names {
		if !c.repos[name].polled.Load() {
			return false, fmt.Sprintf("repo %q has not been polled yet", name)
		}
	}
	return true, ""
}

func (c *Controller) loop(ctx context.Context, rs *repoState) {
	failures := 0
	triggered := true // the first pass runs every app
	defer func() { c.release(rs.lease) }()
	for {
		var err error
		if c.ownRepo(ctx, rs) {
			rs.owned.Store(true)
			err = c.syncSafely(ctx, rs, triggered)
			rs.kickDrift()
			c.shed(ctx, rs)
		}
		rs.owned.Store(rs.lease != nil || c.opt.Leases == nil)
		if ctx.Err() != nil {
			return
		}
		wait := c.opt.Jitter(rs.cfg.Interval)
		if rs.lease == nil && c.opt.Leases != nil {
			wait = min(wait, c.leaseTTL()/2) // be ready to take over
		}
		if err != nil {
			failures++
			wait = backoff(rs.cfg.Interval, failures, 16*rs.cfg.Interval)
		} else {
			failures = 0
		}
		if next := rs.nextRetry(); !next.IsZero() {
			if d := next.Sub(c.opt.Now()); d < wait {
				wait = max(d, time.Second)
			}
		}
		t := time.NewTimer(wait)
		triggered = false
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-rs.trigger:
			t.Stop()
			triggered = true
		case <-t.C:
		}
	}
}

// syncSafely runs one sync of the repo (every app when full; see sync); a
// panic in it is logged and announced (source.failed), and the loop goes
// on.
func (c *Controller) syncSafely(ctx context.Context, rs *repoState, full bool) (err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("internal error: %v", p)
			c.log.Error("internal error syncing the repository", "repo", rs.cfg.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			c.opt.Events.Emit(ctx, notify.CatSource, notify.ActFailed, notify.Data{Repo: rs.cfg.Name, RepoURL: rs.cfg.URL, Error: c.opt.Scrub(msg)})
			err = errors.New(msg)
		}
	}()
	return c.sync(ctx, rs, full)
}

// backoff doubles base per failure up to limit.
func backoff(base time.Duration, failures int, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (c *Controller) metrics() *metrics.Metrics { return c.opt.Metrics }

func (c *Controller) setStatus(repo, app, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := repo + "/" + app
	if status == "" {
		delete(c.status, key)
	} else {
		c.status[key] = status
	}
	m := c.metrics()
	if m == nil {
		return
	}
	counts := map[string]float64{}
	for _, s := range []string{state.StatusSynced, state.StatusOutOfSync, state.StatusProgressing, state.StatusFailed, state.StatusDrifted, state.StatusPinned, state.StatusSuspended, state.StatusAwaitingApproval} {
		counts[s] = 0
	}
	for _, s := range c.status {
		counts[s]++
	}
	for s, n := range counts {
		m.AppsByStatus.WithLabelValues(s).Set(n)
	}
}
