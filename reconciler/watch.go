package reconciler

import (
	"context"
	"time"

	"github.com/driftless/driftless/state"
)

// watchActions triggers the loop of a repo this replica reconciles when an
// app of it gets a new action request (Forced: reconcile, approve,
// rollback, unpin, resume), whoever recorded it. The replica that took the
// action also broadcasts a trigger (Options.Broadcast), but that is a core
// NATS message: it is lost when the subscriber's interest has not yet
// reached the publisher's server, or while either connection is down. A
// full pass is the only one that looks at requests (an idle poll skips the
// apps), so without this the action would wait for the next full pass,
// up to fullPassEvery. The watch reads the state bucket's own stream,
// which loses nothing; it runs until ctx ends, watching again after a
// failure.
func (c *Controller) watchActions(ctx context.Context, w state.Watcher) {
	seen := map[string]string{} // repo/app → the request last seen
	for failures := 0; ctx.Err() == nil; {
		err := w.WatchApps(ctx, func(st state.AppState) {
			failures = 0
			c.noticeRequest(seen, st)
		})
		if ctx.Err() != nil {
			return
		}
		failures++
		c.log.Warn("watching the app states for actions; the replicas' trigger broadcast still works", "error", err)
		// Writes made while the watch was down were not seen: a pass
		// reads every state.
		clear(seen)
		for _, name := range c.names {
			if c.repos[name].owned.Load() {
				c.Trigger(name)
			}
		}
		if !sleepCtx(ctx, backoff(time.Second, failures, 30*time.Second)) {
			return
		}
	}
}

// noticeRequest triggers st's repo when st carries a request other than
// the one last seen for the app and this replica reconciles the repo. The
// replica's own writes that keep a request pending (a blocked app's
// status) do not trigger it again, nor does the write consuming it.
func (c *Controller) noticeRequest(seen map[string]string, st state.AppState) {
	key := st.Repo + "/" + st.App
	if st.Forced == "" {
		delete(seen, key)
		return
	}
	req := st.Forced + "\x00" + st.ForcedBy
	if seen[key] == req {
		return
	}
	seen[key] = req
	rs, ok := c.repos[st.Repo]
	if !ok || !rs.owned.Load() {
		return
	}
	c.log.Debug("an action was recorded: reconciling the repo now", "repo", st.Repo, "app", st.App, "forced", st.Forced, "forced_by", st.ForcedBy)
	c.Trigger(st.Repo)
}
