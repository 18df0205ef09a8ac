package reconciler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/sources"
	"github.com/driftless/driftless/state"
)

// ScanDrift checks every eligible app of repo for drift now, whatever its
// schedule: for tests and `driftless drift --scan`.
func (c *Controller) ScanDrift(ctx context.Context, repo string) error {
	rs, ok := c.repos[repo]
	if !ok {
		return fmt.Errorf("%w: repo %q", state.ErrNotFound, repo)
	}
	if _, d := rs.current(); d == nil {
		return fmt.Errorf("%w: repo %q has no valid revision yet", state.ErrConflict, repo)
	}
	rs.dmu.Lock()
	defer rs.dmu.Unlock()
	c.scanDrift(ctx, rs, true)
	return nil
}

// driftLoop is the repo's drift lane: it runs the scans that are due,
// beside the repo loop, so that a scan never delays a poll, a webhook or a
// deploy (scans plan without taking the state lock). It scans only while
// this replica reconciles the repo, and stops at once with ctx.
func (c *Controller) driftLoop(ctx context.Context, rs *repoState) {
	if c.opt.Drift == nil {
		return
	}
	for {
		wait := time.Minute
		if rs.owned.Load() {
			rs.dmu.Lock()
			next := c.scanDrift(ctx, rs, false)
			rs.dmu.Unlock()
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(c.opt.Now()), time.Second))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-rs.driftKick:
			t.Stop()
		case <-t.C:
		}
	}
}

// kickDrift wakes the repo's drift lane (a new revision, a lease taken).
func (rs *repoState) kickDrift() {
	select {
	case rs.driftKick <- struct{}{}:
	default:
	}
}

// scanDrift runs the drift checks that are due (all of them when all is
// set) and returns when the next one is due. The caller holds rs.dmu. Only
// apps whose live state should equal the current desired state are
// checked: synced or drifted, applied at the current revision, no deploy
// in flight.
func (c *Controller) scanDrift(ctx context.Context, rs *repoState, all bool) time.Time {
	rev, d := rs.current()
	if c.opt.Drift == nil || d == nil {
		return time.Time{}
	}
	var next time.Time
	for _, name := range d.Order {
		app := d.Apps[name]
		interval := rs.cfg.DriftInterval
		if app.DriftInterval > 0 {
			interval = app.DriftInterval
		}
		if !all && interval <= 0 {
			continue
		}
		last, ok := rs.scanned[name]
		if !ok {
			last = rs.started
		}
		if !all && c.opt.Now().Sub(last) < interval {
			if due := last.Add(interval); next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if ctx.Err() != nil {
			return time.Time{}
		}
		c.scanSafely(ctx, rs, rev, d, app)
		if due := c.opt.Now().Add(interval); interval > 0 && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// scanSafely scans one app; a panic in the scan is logged, never fatal.
func (c *Controller) scanSafely(ctx context.Context, rs *repoState, rev *sources.Revision, d *manifest.Desired, app *manifest.App) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("internal error scanning for drift", "repo", rs.cfg.Name, "app", app.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	c.scanApp(ctx, rs, rev, d, app)
}

func (c *Controller) scanApp(ctx context.Context, rs *repoState, rev *sources.Revision, d *manifest.Desired, app *manifest.App) {
	repo := rs.cfg.Name
	det, ok := c.opt.Loader.Applier(app.Kind).(appliers.DriftDetector)
	if !ok {
		return
	}
	st, err := c.opt.Store.Get(ctx, repo, app.Name)
	if err != nil || !driftScannable(rs.view(st), rev.SHA) {
		return
	}
	rs.scanned[app.Name] = c.opt.Now()
	log := c.log.With("repo", repo, "app", app.Name, "revision", rev.SHA)
	spec, err := c.decode(ctx, rs, d, rev, app)
	if err != nil {
		log.Warn("drift scan: cannot decode the app", "error", c.opt.Scrub(err.Error()))
		return
	}
	start := c.opt.Now()
	report, err := det.Drift(ctx, appliers.Request{Repo: repo, App: app.Name, Revision: rev.SHA, Spec: spec, Tree: rev.Tree,
		Log: log, Observer: appliers.NopObserver{}}, app.IgnoreDrift)
	dur := c.opt.Now().Sub(start)
	m := c.metrics()
	if m != nil {
		m.DriftScanDuration.WithLabelValues(repo, app.Kind).Observe(dur.Seconds())
	}
	if err != nil {
		if m != nil {
			m.DriftScans.WithLabelValues(repo, "failed").Inc()
		}
		log.Warn("drift scan failed", "error", c.opt.Scrub(err.Error()))
		return
	}
	if m != nil {
		result := "clean"
		if report.Drifted() {
			result = "drifted"
		}
		m.DriftScans.WithLabelValues(repo, result).Inc()
	}
	tr, dst, err := c.opt.Drift.Observe(ctx, repo, app.Name, report)
	if err != nil {
		log.Error("recording drift", "error", err)
		return
	}
	now := c.opt.Now().UTC()
	rec := c.recorderFor(repo, app.Name)
	_, err = rec.update(ctx, func(s *state.AppState) error {
		if !driftScannable(rs.view(*s), rev.SHA) {
			return errDeployedMeanwhile // the scan saw a state a deploy has replaced
		}
		s.DriftScannedAt = now
		if report.Drifted() {
			s.Drift = &state.DriftInfo{Fingerprint: dst.Fingerprint, Items: dst.Items, FirstSeen: dst.FirstSeen}
			if s.Status == state.StatusSynced {
				s.Status = state.StatusDrifted
			}
		} else {
			s.Drift = nil
			if s.Status == state.StatusDrifted {
				s.Status = state.StatusSynced
			}
		}
		return nil
	})
	if errors.Is(err, errDeployedMeanwhile) {
		log.Info("drift scan result dropped: the app was deployed while it ran")
		return
	}
	if err != nil {
		log.Error("recording drift", "error", err)
		return
	}
	c.updateDriftGauge()
	if !tr.Announce() {
		return
	}
	ev := c.revData(rs, rev, "")
	ev.App, ev.Kind = app.Name, app.Kind
	ev.Drift = toEventItems(dst.Items)
	first := dst.FirstSeen
	ev.FirstSeen = &first
	ev.Extra = map[string]string{"fingerprint": dst.Fingerprint, "transition": string(tr)}
	action := notify.ActDetected
	if tr == drift.Resolved {
		action = notify.ActResolved
		log.Info("drift resolved", "fingerprint", dst.Fingerprint)
	} else {
		ev.Summary = driftSummary(dst.Items)
		log.Warn("drift detected", "transition", string(tr), "fingerprint", dst.Fingerprint, "summary", ev.Summary)
	}
	rec.emit(ctx, notify.CatDrift, action, ev)
	if tr != drift.Resolved && app.SelfHeal {
		log.Info("self-heal: re-applying the desired state")
		if _, err := c.requestForce(ctx, repo, app.Name, state.ReasonDrift, "self-heal"); err == nil {
			c.Trigger(repo)
		}
	}
}

// errDeployedMeanwhile drops a drift scan's result: a deploy started or
// finished while the scan ran.
var errDeployedMeanwhile = errors.New("the app was deployed during the drift scan")

// driftScannable reports whether st's live state should equal the desired
// state at rev: applied there, synced or drifted, nothing in flight.
func driftScannable(st state.AppState, rev string) bool {
	return !st.Suspended && st.InFlight == nil && st.AppliedRevision == rev &&
		(st.Status == state.StatusSynced || st.Status == state.StatusDrifted)
}

func (c *Controller) updateDriftGauge() {
	m := c.metrics()
	if m == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.status {
		if s == state.StatusDrifted {
			n++
		}
	}
	m.DriftedApps.Set(float64(n))
}

func toEventItems(items []appliers.DriftItem) []notify.DriftItem {
	out := make([]notify.DriftItem, len(items))
	for i, it := range items {
		out[i] = notify.DriftItem{Address: it.Address, Attributes: it.Attributes, Action: it.Action}
	}
	return out
}

func driftSummary(items []appliers.DriftItem) string {
	if len(items) == 1 {
		return fmt.Sprintf("%s changed outside driftless", items[0].Address)
	}
	return fmt.Sprintf("%d resources changed outside driftless", len(items))
}
