package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// errFenced is returned by a recorder whose run lost the right to write:
// its app lease was lost, or another writer (the replica that took the
// app over) moved the deploy on. The run stops; nothing it knows is newer
// than what is stored.
var errFenced = errors.New("fenced: another writer owns this app's deploy now")

// recorder is the one writer of an app's state, history, events, status
// gauge and reconcile metrics. Every state write of a reconcile run goes
// through save, which writes with a revision check: a writer holding
// stale state fails instead of overwriting newer state.
//
// The fields a deploy owns are the deploy in flight and the last deploy.
// When the stored state moved only in other fields (an API action, a
// drift scan), save applies its change again on the fresh state; when a
// deploy moved, the run is fenced.
type recorder struct {
	c         *Controller
	repo, app string
	st        state.AppState // as last read or written by this recorder
	lease     *heldLease     // the app lease while a deploy holds it
	inFlight  string         // deploy ids this recorder last saw, for fencing
	lastDep   string
	fenced    bool
	approved  string // the plan id an approval consumed by this run names
	log       *slog.Logger

	mem        *passMemory // the pass's memory of stored states (nil outside passes)
	remembered bool        // st is a remembered state, not one read (see passMemory)
}

func (c *Controller) recorderFor(repo, app string) *recorder {
	return c.recorderLogging(repo, app, c.log.With("repo", repo, "app", app))
}

// recorderLogging is recorderFor with the logger given (which names the
// repo and the app).
func (c *Controller) recorderLogging(repo, app string, log *slog.Logger) *recorder {
	return &recorder{c: c, repo: repo, app: app, st: state.AppState{Repo: repo, App: app}, log: log}
}

// load reads the app's state, as it stands given what is remembered of
// the repository (state.RepoState.Current); a missing app reads as a new
// one.
func (r *recorder) load(ctx context.Context) error {
	st, err := r.c.opt.Store.Get(ctx, r.repo, r.app)
	if errors.Is(err, state.ErrNotFound) {
		st, err = state.AppState{}, nil
	}
	if err != nil {
		return fmt.Errorf("reading the state of %s/%s: %w", r.repo, r.app, err)
	}
	st.Repo, st.App = r.repo, r.app
	r.mem.read(r.app, st)
	if rs, ok := r.c.repos[r.repo]; ok {
		st = rs.view(st)
	}
	r.remembered = false
	r.adopt(st)
	return nil
}

// recall adopts the app's state as the pass remembers it, when it trusts
// what it remembers (see passMemory).
func (r *recorder) recall() bool {
	st, ok := r.mem.recall(r.app)
	if !ok {
		return false
	}
	st.Repo, st.App = r.repo, r.app
	if rs, ok := r.c.repos[r.repo]; ok {
		st = rs.view(st)
	}
	r.adopt(st)
	r.remembered = true
	return true
}

// adopt makes st the state this recorder's run decides from.
func (r *recorder) adopt(st state.AppState) {
	r.st = st
	r.inFlight, r.lastDep = deployIDOf(st.InFlight), deployIDOf(st.LastDeploy)
}

// save applies fn to the app's state and writes it, revision-checked.
func (r *recorder) save(ctx context.Context, fn func(*state.AppState)) error {
	for attempt := 0; ; attempt++ {
		if err := r.check(); err != nil {
			return err
		}
		next := r.st.Clone()
		fn(&next)
		next.UpdatedAt = r.c.opt.Now().UTC()
		saved, err := r.c.opt.Store.Put(ctx, next)
		if err == nil {
			r.mem.wrote(r.app, saved)
			r.st, r.remembered = saved, false
			r.inFlight, r.lastDep = deployIDOf(saved.InFlight), deployIDOf(saved.LastDeploy)
			r.c.noteStatus(saved)
			return nil
		}
		if !errors.Is(err, state.ErrStale) || attempt >= 20 {
			r.log.Error("saving app state", "error", err)
			return err
		}
		cur, gerr := r.c.opt.Store.Get(ctx, r.repo, r.app)
		if errors.Is(gerr, state.ErrNotFound) {
			cur, gerr = state.AppState{Repo: r.repo, App: r.app}, nil
		}
		if gerr != nil {
			r.log.Error("saving app state", "error", gerr)
			return gerr
		}
		r.mem.read(r.app, cur)
		if deployIDOf(cur.InFlight) != r.inFlight || deployIDOf(cur.LastDeploy) != r.lastDep {
			r.fenced = true
			r.log.Warn("not recording: another replica moved this app's deploy on",
				"in_flight", deployIDOf(cur.InFlight), "last_deploy", deployIDOf(cur.LastDeploy))
			return errFenced
		}
		r.st = cur // moved in fields a deploy does not own: apply fn again
	}
}

// check refuses writes once the run is fenced or its app lease is lost.
func (r *recorder) check() error {
	if r.lease != nil && !r.lease.valid() {
		r.fenced = true
	}
	if r.fenced {
		return errFenced
	}
	return nil
}

// update is a read-modify-write for requests from the API and for drift
// scans: fn is applied to the freshest state, retried on conflict.
func (r *recorder) update(ctx context.Context, fn func(*state.AppState) error) (state.AppState, error) {
	st, err := r.c.opt.Store.Update(ctx, r.repo, r.app, func(s *state.AppState) error {
		if err := fn(s); err != nil {
			return err
		}
		s.UpdatedAt = r.c.opt.Now().UTC()
		return nil
	})
	if err != nil {
		return st, err
	}
	r.st = st
	r.c.noteStatus(st)
	return st, nil
}

// forget deletes the app's state (its block was removed).
func (r *recorder) forget(ctx context.Context) error {
	if err := r.c.opt.Store.Delete(ctx, r.repo, r.app); err != nil {
		return err
	}
	r.c.setStatus(r.repo, r.app, "")
	return nil
}

// history records a deploy or rollback.
func (r *recorder) history(ctx context.Context, rec state.DeployRecord) {
	if r.fenced {
		return
	}
	if err := r.c.opt.Store.AppendHistory(ctx, r.repo, r.app, rec); err != nil {
		r.log.Error("recording history", "deploy_id", rec.ID, "error", err)
	}
}

// emit publishes an event, unless the run was fenced: the writer that
// took over tells the story from then on.
func (r *recorder) emit(ctx context.Context, category, action string, d notify.Data) {
	if r.fenced {
		return
	}
	r.c.opt.Events.Emit(ctx, category, action, d)
}

// count adds one reconcile with result to the metrics.
func (r *recorder) count(result string) {
	if m := r.c.metrics(); m != nil {
		m.Reconciles.WithLabelValues(r.repo, r.app, result).Inc()
	}
}

// observeDuration records a deploy's duration.
func (r *recorder) observeDuration(kind string, d time.Duration) {
	if m := r.c.metrics(); m != nil {
		m.ReconcileDuration.WithLabelValues(r.repo, kind).Observe(d.Seconds())
	}
}

// noteStatus keeps the status gauge and the repo's retry schedule in step
// with a state just written.
func (c *Controller) noteStatus(st state.AppState) {
	c.setStatus(st.Repo, st.App, st.Status)
	if st.Status != state.StatusFailed {
		if rs, ok := c.repos[st.Repo]; ok {
			rs.setRetry(st.App, time.Time{})
		}
	}
}

func deployIDOf(d *state.DeployRecord) string {
	if d == nil {
		return ""
	}
	return d.ID
}
