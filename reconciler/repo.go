package reconciler

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
	"github.com/hashicorp/hcl/v2"
)

// snapshot is a repository's newest valid revision and its desired state.
type snapshot struct {
	rev     *sources.Revision
	desired *manifest.Desired
}

// repoState is the in-memory state of one repository's loop.
type repoState struct {
	cur atomic.Pointer[snapshot] // read by API actions and drift scans without mu

	cfg     Repo
	trigger chan struct{}
	polled  atomic.Bool
	marks   atomic.Pointer[state.RepoState] // as last read or written (see state.RepoState.Current)

	mu         sync.Mutex // held while the loop syncs; guards the fields below
	invalidSHA string     // newest revision rejected (reported once)
	failing    bool       // the source is failing (reported once)

	fmu       sync.Mutex
	retryAt   map[string]time.Time
	dmu       sync.Mutex           // held while the drift lane scans; guards scanned
	scanned   map[string]time.Time // app → last drift scan
	driftKick chan struct{}
	owned     atomic.Bool                  // this replica reconciles the repo (drift lane runs)
	loaded    map[string]*manifest.Desired // older revisions' desired state (guarded by fmu)
	diffs     map[[2]string][]string       // changed paths between two revisions, never modified (guarded by fmu)
	hashes    map[*manifest.App]string     // spec hashes of apps without references (guarded by fmu; see specHashOf)
	mem       *passMemory                  // what the passes know of the stored states (set by the loop goroutine)
	lease     *heldLease                   // the repo lease, when this replica holds it (loop goroutine only)
	follower  bool                         // another replica holds the repo lease (logged once)
	started   time.Time                    // first drift scans are one interval after start
	pass      passRecord                   // the last reconcile pass (loop goroutine, under mu)
	forgotten bool                         // the states of removed apps were dropped since the lease was taken (under mu)
	// marksFresh: marks were just read and written by load, so the pass
	// that follows need not read them again (loop goroutine, under mu).
	marksFresh bool
}

// passRecord is what the last reconcile pass of a repository found.
type passRecord struct {
	rev     string            // the head it reconciled
	at      time.Time         // when it started
	settled bool              // it ran every app, and each ended synced
	desired *manifest.Desired // the desired state it reconciled
}

// current returns the newest valid revision and its desired state (nil,
// nil before the first).
func (rs *repoState) current() (*sources.Revision, *manifest.Desired) {
	if s := rs.cur.Load(); s != nil {
		return s.rev, s.desired
	}
	return nil, nil
}

// view is st as it stands given what this replica last read or wrote of
// the repository (state.RepoState.Current).
func (rs *repoState) view(st state.AppState) state.AppState {
	if m := rs.marks.Load(); m != nil {
		return m.Current(st)
	}
	return st
}

func (rs *repoState) setRetry(app string, at time.Time) {
	rs.fmu.Lock()
	defer rs.fmu.Unlock()
	if rs.retryAt == nil {
		rs.retryAt = map[string]time.Time{}
	}
	if at.IsZero() {
		delete(rs.retryAt, app)
	} else {
		rs.retryAt[app] = at
	}
}

// nextRetry is the earliest time an app of the repo wants a retry.
func (rs *repoState) nextRetry() time.Time {
	rs.fmu.Lock()
	defer rs.fmu.Unlock()
	var next time.Time
	for _, t := range rs.retryAt {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// fullPassEvery bounds how long the apps of an unchanged repository go
// without a reconcile pass when nothing asked for one (see idle).
const fullPassEvery = 15 * time.Minute

// sync polls the repository, loads a new revision's desired state and
// reconciles the apps: every time when full (a trigger: webhook, API
// action, self-heal; a one-shot sync), otherwise unless the poll is idle.
// It returns the poll error, if any.
func (c *Controller) sync(ctx context.Context, rs *repoState, full bool) error {
	repo := rs.cfg.Name
	log := c.log.With("repo", repo)
	start := c.opt.Now()
	poll := rs.cfg.Source.Poll
	if p, ok := rs.cfg.Source.(Puller); ok && full {
		poll = p.Pull // triggered, most likely by a push: list and fetch in one session
	}
	rev, changed, err := poll(ctx)
	rs.polled.Store(true)
	if m := c.metrics(); m != nil {
		m.PollDuration.WithLabelValues(repo).Observe(time.Since(start).Seconds())
		result := "unchanged"
		switch {
		case err != nil:
			result = "failed"
			m.PollFailures.WithLabelValues(repo).Inc()
		case changed:
			result = "changed"
		}
		m.Polls.WithLabelValues(repo, result).Inc()
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		msg := c.opt.Scrub(err.Error())
		if !rs.failing {
			rs.failing = true
			log.Error("polling the repository failed", "error", msg)
			c.opt.Events.Emit(ctx, notify.CatSource, notify.ActFailed, notify.Data{Repo: repo, RepoURL: rs.cfg.URL, Error: msg})
		} else {
			log.Debug("polling the repository still fails", "error", msg)
		}
		return err
	}
	if rs.failing {
		rs.failing = false
		log.Info("the repository is reachable again", "revision", rev.SHA)
		c.opt.Events.Emit(ctx, notify.CatSource, notify.ActUpdated, c.revData(rs, rev, state.ReasonRecovered))
	}
	if cur, _ := rs.current(); cur == nil || rev.SHA != cur.SHA {
		if rev.SHA != rs.invalidSHA {
			c.load(ctx, rs, rev)
		}
	}
	cur, d := rs.current()
	if d == nil || !full && c.idle(rs, cur.SHA) {
		return nil
	}
	c.reconcileApps(ctx, rs)
	return nil
}

// idle reports whether a pass at head would find nothing to do: the last
// pass, recent, was at head and left every app synced, so that no retry
// is due, no deploy is interrupted and no approval waits. Everything that
// asks for work on an unchanged revision (API actions, approvals,
// self-heal) triggers the loop, which makes the pass full. An idle poll
// costs one ref listing, whatever the number of apps.
func (c *Controller) idle(rs *repoState, head string) bool {
	p := rs.pass
	return p.settled && p.rev == head && c.opt.Now().Sub(p.at) < fullPassEvery
}

// evalAttempts is how many evaluations of one revision may start without
// ending (the controller killed during them, e.g. out of memory) before the
// revision is rejected without being evaluated again.
const evalAttempts = 2

// load decodes the manifests of rev and, when they are valid, makes them
// the repository's desired state. A revision rejected before, or whose
// evaluation never ended twice, is not evaluated again.
func (c *Controller) load(ctx context.Context, rs *repoState, rev *sources.Revision) {
	repo := rs.cfg.Name
	log := c.log.With("repo", repo, "revision", rev.SHA)
	reuse := c.previousAsync(ctx, rs, rev) // the Git diff, while the marks are read and written
	marks, err := c.opt.Store.Repo(ctx, repo)
	if err != nil {
		log.Warn("reading what is remembered of the repository", "error", err)
		marks = state.RepoState{Repo: repo}
	}
	stored := err == nil // marks are the stored ones, as far as this load knows
	switch {
	case marks.Rejected == rev.SHA:
		rs.invalidSHA = rev.SHA
		log.Warn("the revision was rejected before; keeping the last good state", "why", marks.Why)
		c.restoreLastGood(ctx, rs, marks)
		return
	case marks.Evaluating == rev.SHA && marks.Attempts >= evalAttempts:
		why := fmt.Sprintf("the controller stopped %d times while evaluating this revision's manifests (out of memory, or killed); it is rejected without being evaluated again: fix or revert the commit", marks.Attempts)
		c.reject(ctx, rs, rev, marks, why, nil)
		c.restoreLastGood(ctx, rs, marks)
		return
	}
	if marks.Evaluating != rev.SHA {
		marks.Evaluating, marks.Attempts = rev.SHA, 0
	}
	marks.Attempts++
	if err := c.opt.Store.PutRepo(ctx, marks); err != nil {
		stored = false
		log.Warn("remembering the revision being evaluated", "error", err)
	}
	d, diags := c.evaluate(repo, rev, rs.cfg.Path, <-reuse)
	marks.Evaluating, marks.Attempts = "", 0
	if diags.HasErrors() {
		lines := manifest.Format(diags)
		c.reject(ctx, rs, rev, marks, fmt.Sprintf("%d error(s) in the manifests: %s", len(errorsOnly(lines)), strings.Join(errorsOnly(lines), "; ")), lines)
		c.restoreLastGood(ctx, rs, marks)
		return
	}
	marks.Good = rev.SHA
	marks.Last.Loaded(rev.SHA)
	if err := c.opt.Store.PutRepo(ctx, marks); err != nil {
		stored = false
		log.Warn("remembering the revision evaluated", "error", err)
	}
	rs.marks.Store(&marks)
	rs.marksFresh = stored
	_, prev := rs.current()
	rs.cur.Store(&snapshot{rev: rev, desired: d})
	rs.keepHashes(d)
	rs.invalidSHA = ""
	log.Info("new revision", "apps", len(d.Apps), "author", rev.Author, "pr", rev.PR)
	data := c.revData(rs, rev, "")
	data.Key = rs.cfg.Name + "@" + rev.SHA // announced once per revision, restarts included
	c.opt.Events.Emit(ctx, notify.CatSource, notify.ActUpdated, data)
	if !rs.forgotten || removesApps(prev, d) {
		c.forgetRemoved(ctx, rs, d)
	}
}

// removesApps reports whether an app of prev is not declared in d (nil
// prev: unknown, so yes).
func removesApps(prev, d *manifest.Desired) bool {
	if prev == nil {
		return true
	}
	for name := range prev.Apps {
		if _, ok := d.Apps[name]; !ok {
			return true
		}
	}
	return false
}

// restoreLastGood makes the newest valid revision the desired state when
// the repo has none (a restart on a rejected head), so that the last good
// state keeps being reconciled and scanned for drift.
func (c *Controller) restoreLastGood(ctx context.Context, rs *repoState, marks state.RepoState) {
	if cur, _ := rs.current(); cur != nil || marks.Good == "" {
		return
	}
	rev, err := rs.cfg.Source.Revision(ctx, marks.Good)
	if err != nil {
		c.log.Warn("reading the last good revision", "repo", rs.cfg.Name, "revision", marks.Good, "error", err)
		return
	}
	d, diags := c.evaluate(rs.cfg.Name, rev, rs.cfg.Path, manifest.Previous{})
	if diags.HasErrors() {
		return
	}
	rs.cur.Store(&snapshot{rev: rev, desired: d})
	c.log.Info("keeping the last good revision", "repo", rs.cfg.Name, "revision", rev.SHA)
}

// previous is what loading rev may reuse of the repository's current
// desired state: the paths changed since its revision tell which apps
// need no new decoding (manifest.Loader.Reload). Nothing when that cannot
// be told.
func (c *Controller) previous(ctx context.Context, rs *repoState, rev *sources.Revision) manifest.Previous {
	cur, d := rs.current()
	if cur == nil || d == nil {
		return manifest.Previous{}
	}
	paths, err := rs.changedPaths(ctx, cur.SHA, rev.SHA)
	if err != nil {
		c.log.Warn("cannot tell what changed; evaluating every manifest block", "repo", rs.cfg.Name,
			"from", cur.SHA, "to", rev.SHA, "error", err)
		return manifest.Previous{}
	}
	return manifest.Previous{Desired: d, Changed: paths}
}

// previousAsync is previous, computed in a goroutine of its own; a panic
// there leaves nothing to reuse (every manifest block is evaluated).
func (c *Controller) previousAsync(ctx context.Context, rs *repoState, rev *sources.Revision) <-chan manifest.Previous {
	out := make(chan manifest.Previous, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				c.log.Error("internal error telling what changed; evaluating every manifest block", "repo", rs.cfg.Name,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				out <- manifest.Previous{}
			}
		}()
		out <- c.previous(ctx, rs, rev)
	}()
	return out
}

// evaluate loads the manifests of rev, reusing what prev allows; a panic
// while doing so is a diagnostic, never a dead process.
func (c *Controller) evaluate(repo string, rev *sources.Revision, path string, prev manifest.Previous) (d *manifest.Desired, diags hcl.Diagnostics) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("internal error evaluating the manifests", "repo", repo, "revision", rev.SHA, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			d, diags = nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Internal error",
				Detail: fmt.Sprintf("evaluating the manifests failed: %v", p)}}
		}
	}()
	return c.opt.Loader.Reload(repo, rev.Tree, path, prev)
}

// reject records rev as rejected (remembered across restarts) and
// announces it once with source.invalid; the last good state keeps running.
func (c *Controller) reject(ctx context.Context, rs *repoState, rev *sources.Revision, marks state.RepoState, why string, diagnostics []string) {
	repo := rs.cfg.Name
	rs.invalidSHA = rev.SHA
	marks.Rejected, marks.Why = rev.SHA, why
	marks.Evaluating, marks.Attempts = "", 0
	if err := c.opt.Store.PutRepo(ctx, marks); err != nil {
		c.log.Warn("remembering the rejected revision", "repo", repo, "revision", rev.SHA, "error", err)
	}
	c.log.Error("the revision's manifests are invalid; keeping the last good state", "repo", repo, "revision", rev.SHA,
		"diagnostics", diagnostics, "why", why)
	data := c.revData(rs, rev, "")
	data.Key = repo + "@" + rev.SHA
	data.Diagnostics = diagnostics
	data.Error = why
	c.opt.Events.Emit(ctx, notify.CatSource, notify.ActInvalid, data)
	if m := c.metrics(); m != nil {
		m.Reconciles.WithLabelValues(repo, "", "invalid").Inc()
	}
}

// forgetRemoved drops the state of apps no longer declared. Their
// resources are left in place: removing a block stops managing an app, it
// never destroys anything.
// A repository's states are listed once after its lease is taken, and
// again only when a revision drops an app: in between, the apps with state
// are the apps declared.
func (c *Controller) forgetRemoved(ctx context.Context, rs *repoState, d *manifest.Desired) {
	states, err := c.opt.Store.List(ctx)
	if err != nil {
		c.log.Warn("listing app state", "repo", rs.cfg.Name, "error", err)
		return
	}
	rs.forgotten = true
	for _, st := range states {
		if st.Repo != rs.cfg.Name {
			continue
		}
		if _, ok := d.Apps[st.App]; ok {
			continue
		}
		c.log.Warn("app removed from the manifests; its resources are left in place and no longer managed", "repo", st.Repo, "app", st.App)
		if err := c.recorderFor(st.Repo, st.App).forget(ctx); err != nil {
			c.log.Warn("forgetting app state", "repo", st.Repo, "app", st.App, "error", err)
		}
	}
}

func (c *Controller) revData(rs *repoState, rev *sources.Revision, reason string) notify.Data {
	return notify.Data{Repo: rs.cfg.Name, RepoURL: rs.cfg.URL, Revision: rev.SHA, Author: rev.Author,
		Message: firstLine(rev.Message), PR: rev.PR, Reason: reason}
}

func errorsOnly(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, "warning: ") {
			out = append(out, l)
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
