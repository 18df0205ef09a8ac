package reconciler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
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
	lease     *heldLease                   // the repo lease, when this replica holds it (loop goroutine only)
	follower  bool                         // another replica holds the repo lease (logged once)
	started   time.Time                    // first drift scans are one interval after start
}

// current returns the newest valid revision and its desired state (nil,
// nil before the first).
func (rs *repoState) current() (*sources.Revision, *manifest.Desired) {
	if s := rs.cur.Load(); s != nil {
		return s.rev, s.desired
	}
	return nil, nil
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

// sync polls the repository, loads a new revision's desired state and
// reconciles the apps. It returns the poll error, if any.
func (c *Controller) sync(ctx context.Context, rs *repoState) error {
	repo := rs.cfg.Name
	log := c.log.With("repo", repo)
	start := c.opt.Now()
	rev, changed, err := rs.cfg.Source.Poll(ctx)
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
		c.opt.Events.Emit(ctx, notify.CatSource, notify.ActUpdated, c.revData(rs, rev, "recovered"))
	}
	if cur, _ := rs.current(); cur == nil || rev.SHA != cur.SHA {
		if rev.SHA != rs.invalidSHA {
			c.load(ctx, rs, rev)
		}
	}
	if _, d := rs.current(); d == nil {
		return nil
	}
	c.reconcileApps(ctx, rs)
	return nil
}

// load decodes the manifests of rev and, when they are valid, makes them
// the repository's desired state.
func (c *Controller) load(ctx context.Context, rs *repoState, rev *sources.Revision) {
	repo := rs.cfg.Name
	log := c.log.With("repo", repo, "revision", rev.SHA)
	d, diags := c.opt.Loader.Load(repo, rev.Tree, rs.cfg.Path)
	if diags.HasErrors() {
		rs.invalidSHA = rev.SHA
		lines := manifest.Format(diags)
		log.Error("the revision's manifests are invalid; keeping the last good state", "diagnostics", lines)
		data := c.revData(rs, rev, "")
		data.Key = rs.cfg.Name + "@" + rev.SHA
		data.Diagnostics = lines
		data.Error = fmt.Sprintf("%d error(s) in the manifests: %s", len(errorsOnly(lines)), strings.Join(errorsOnly(lines), "; "))
		c.opt.Events.Emit(ctx, notify.CatSource, notify.ActInvalid, data)
		if m := c.metrics(); m != nil {
			m.Reconciles.WithLabelValues(repo, "", "invalid").Inc()
		}
		return
	}
	rs.cur.Store(&snapshot{rev: rev, desired: d})
	rs.invalidSHA = ""
	log.Info("new revision", "apps", len(d.Apps), "author", rev.Author, "pr", rev.PR)
	data := c.revData(rs, rev, "")
	data.Key = rs.cfg.Name + "@" + rev.SHA // announced once per revision, restarts included
	c.opt.Events.Emit(ctx, notify.CatSource, notify.ActUpdated, data)
	c.forgetRemoved(ctx, rs, d)
}

// forgetRemoved drops the state of apps no longer declared. Their
// resources are left in place: removing a block stops managing an app, it
// never destroys anything.
func (c *Controller) forgetRemoved(ctx context.Context, rs *repoState, d *manifest.Desired) {
	states, err := c.opt.Store.List(ctx)
	if err != nil {
		c.log.Warn("listing app state", "repo", rs.cfg.Name, "error", err)
		return
	}
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
