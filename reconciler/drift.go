package reconciler

import (
	"context"
	"fmt"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/drift"
	"github.com/driftless/driftless/manifest"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// ScanDrift checks every eligible app of repo for drift now, whatever its
// schedule: for tests and `driftless drift --scan`.
func (c *Controller) ScanDrift(ctx context.Context, repo string) error {
	rs, ok := c.repos[repo]
	if !ok {
		return fmt.Errorf("%w: repo %q", state.ErrNotFound, repo)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.desired == nil {
		return fmt.Errorf("%w: repo %q has no valid revision yet", state.ErrConflict, repo)
	}
	c.scanDrift(ctx, rs, true)
	return nil
}

// scanDrift runs the drift checks that are due. It runs in the repo's loop
// after the apps were reconciled, so it never overlaps a deploy of the
// same repo. Only apps whose live state should equal the current desired
// state are checked: synced or drifted, applied at the current revision.
func (c *Controller) scanDrift(ctx context.Context, rs *repoState, all bool) {
	if c.opt.Drift == nil || rs.desired == nil {
		return
	}
	for _, name := range rs.desired.Order {
		app := rs.desired.Apps[name]
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
			continue
		}
		if ctx.Err() != nil {
			return
		}
		c.scanApp(ctx, rs, app)
	}
}

func (c *Controller) scanApp(ctx context.Context, rs *repoState, app *manifest.App) {
	repo, rev := rs.cfg.Name, rs.rev
	det, ok := c.opt.Loader.Applier(app.Kind).(appliers.DriftDetector)
	if !ok {
		return
	}
	st, err := c.opt.Store.Get(ctx, repo, app.Name)
	if err != nil || st.Suspended || st.AppliedRevision != rev.SHA || (st.Status != state.StatusSynced && st.Status != state.StatusDrifted) {
		return
	}
	rs.scanned[app.Name] = c.opt.Now()
	log := c.log.With("repo", repo, "app", app.Name, "revision", rev.SHA)
	spec, err := c.decode(ctx, rs, rs.desired, rev, app)
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
	c.save(ctx, st, func(s *state.AppState) {
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
	})
	c.updateDriftGauge()
	if !tr.Announce() {
		return
	}
	d := c.appData(rs, rev, app, st, "", "")
	d.PreviousRevision = ""
	d.Drift = toEventItems(dst.Items)
	first := dst.FirstSeen
	d.FirstSeen = &first
	d.Extra = map[string]string{"fingerprint": dst.Fingerprint, "transition": string(tr)}
	action := notify.ActDetected
	if tr == drift.Resolved {
		action = notify.ActResolved
		log.Info("drift resolved", "fingerprint", dst.Fingerprint)
	} else {
		d.Summary = driftSummary(dst.Items)
		log.Warn("drift detected", "transition", string(tr), "fingerprint", dst.Fingerprint, "summary", d.Summary)
	}
	c.opt.Events.Emit(ctx, notify.CatDrift, action, d)
	if tr != drift.Resolved && app.SelfHeal {
		log.Info("self-heal: re-applying the desired state")
		if _, err := c.requestForce(ctx, repo, app.Name, state.ReasonDrift, "self-heal"); err == nil {
			c.Trigger(repo)
		}
	}
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
