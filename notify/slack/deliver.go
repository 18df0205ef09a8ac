package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/driftless/driftless/internal/wait"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/notify/durable"
)

// delivery is one event on its way to one routed channel.
type delivery struct {
	n     *Notifier
	ctx   context.Context // Run's: ends waits; calls and writes run detached
	msg   *durable.Msg    // InProgress keeps long waits alive
	ev    notify.Event
	route string // the routed channel as configured
	store *store
	log   *slog.Logger
}

// opCtx bounds one call or KV write, detached from Run's context so that
// shutdown never cuts a call Slack may already have carried out before its
// result is recorded.
func (d *delivery) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(d.ctx), callTimeout)
}

func (d *delivery) get(key string, v any) (bool, error) {
	ctx, cancel := d.opCtx()
	defer cancel()
	ok, err := d.store.get(ctx, key, v)
	if err != nil {
		return false, &failure{kind: failTransient, method: "kv get", err: err}
	}
	return ok, nil
}

// put records what was posted. It runs right after Slack accepted a
// message, so it tries a few times before giving up: an unrecorded post is
// posted again when the event is redelivered.
func (d *delivery) put(key string, v any) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := d.opCtx()
		err = d.store.put(ctx, key, v)
		if err == nil {
			cancel()
			return nil
		}
		_ = wait.Sleep(ctx, time.Duration(attempt)*100*time.Millisecond)
		cancel()
	}
	return &failure{kind: failTransient, method: "kv put", err: err}
}

// render renders ev's own message with data in place of its data.
func (d *delivery) render(data notify.Data) Message {
	ev := d.ev
	ev.Data = data
	return Render(ev, d.n.render)
}

// run delivers the event to the channel unless the KV says it already was.
func (d *delivery) run() error {
	var done posted
	found, err := d.get(eventKey(d.ev.ID, d.route), &done)
	if err != nil {
		return err
	}
	if found {
		d.log.Debug("slack: event already delivered to this channel", "ts", done.TS)
		return nil
	}
	cat, act := d.ev.Category(), d.ev.Action()
	switch {
	case cat == notify.CatDrift && (act == notify.ActDetected || act == notify.ActResolved):
		return d.drift()
	case (cat == notify.CatDeploy || cat == notify.CatRollback || cat == notify.CatPlan) && d.ev.Data.DeployID != "":
		return d.deploy()
	default:
		ch, ts, err := d.post(d.route, "", d.render(d.ev.Data))
		if err != nil {
			return err
		}
		return d.done(ch, ts)
	}
}

func (d *delivery) done(channel, ts string) error {
	return d.put(eventKey(d.ev.ID, d.route), posted{Channel: channel, TS: ts})
}

// deploy keeps one message per deploy: the first event of the deploy in
// this channel posts it; every later one edits it (unless it is older in the
// lifecycle than what the message shows) and replies in its thread.
func (d *delivery) deploy() error {
	key := deployKey(d.route, d.ev.Data.DeployID)
	typ := d.ev.Category() + "." + d.ev.Action()
	var th thread
	found, err := d.get(key, &th)
	if err != nil {
		return err
	}
	if !found {
		data := capData(d.ev.Data)
		ch, ts, err := d.post(d.route, "", d.render(data))
		if err != nil {
			return err
		}
		th = thread{Channel: ch, TS: ts, Type: typ, Rank: deployRank(typ), Data: data}
		if err := d.put(key, th); err != nil {
			return err
		}
		return d.done(ch, ts)
	}
	if r := deployRank(typ); r >= th.Rank {
		merged := capData(mergeData(th.Data, d.ev.Data))
		if err := d.editRoot(th, d.render(merged)); err != nil {
			return err
		}
		th.Type, th.Rank, th.Data = typ, r, merged
	}
	_, ts, err := d.post(th.Channel, th.TS, RenderReply(d.ev, d.n.render))
	if err != nil {
		return err
	}
	if err := d.put(key, th); err != nil {
		return err
	}
	return d.done(th.Channel, ts)
}

// drift keeps one message per drift of an app: detected posts it (or, while
// it is open, edits it when the drift changed and replies in the thread);
// resolved edits it to resolved and replies.
func (d *delivery) drift() error {
	key := driftKey(d.route, d.ev.Data.Repo, d.ev.Data.App)
	var th thread
	found, err := d.get(key, &th)
	if err != nil {
		return err
	}
	open := found && !th.Resolved
	fp := driftFingerprint(d.ev.Data)
	typ := d.ev.Category() + "." + d.ev.Action()
	var change DriftChange
	switch {
	case d.ev.Action() == notify.ActDetected && !open:
		data := capData(d.ev.Data)
		ch, ts, err := d.post(d.route, "", d.render(data))
		if err != nil {
			return err
		}
		if err := d.put(key, thread{Channel: ch, TS: ts, Type: typ, Fingerprint: fp, Data: data}); err != nil {
			return err
		}
		return d.done(ch, ts)
	case d.ev.Action() == notify.ActResolved && !open:
		// Nothing open to close here (posted before this route existed, or
		// already resolved): say it on its own.
		ch, ts, err := d.post(d.route, "", d.render(capData(d.ev.Data)))
		if err != nil {
			return err
		}
		return d.done(ch, ts)
	case d.ev.Action() == notify.ActResolved:
		merged := capData(mergeData(th.Data, d.ev.Data))
		if len(d.ev.Data.Drift) == 0 {
			merged.Drift = th.Data.Drift // show what was resolved
		}
		if err := d.editRoot(th, d.render(merged)); err != nil {
			return err
		}
		th.Type, th.Resolved, th.Data = typ, true, merged
		change = DriftResolved
	case fp != th.Fingerprint:
		merged := capData(mergeData(th.Data, d.ev.Data))
		if err := d.editRoot(th, d.render(merged)); err != nil {
			return err
		}
		th.Fingerprint, th.Data = fp, merged
		change = DriftChanged
	default:
		change = DriftStill
	}
	_, ts, err := d.post(th.Channel, th.TS, RenderDriftReply(d.ev, change, d.n.render))
	if err != nil {
		return err
	}
	if err := d.put(key, th); err != nil {
		return err
	}
	return d.done(th.Channel, ts)
}

// editRoot updates a thread's root message. When Slack refuses the edit for
// good (message deleted, edit window closed) the thread reply still goes
// out; anything else stops the delivery so it is retried.
func (d *delivery) editRoot(th thread, m Message) error {
	err := d.update(th.Channel, th.TS, m)
	if err == nil || errors.Is(err, errShutdown) {
		return err
	}
	if f := asFailure(err); f.kind == failPermanent {
		d.log.Warn("slack: could not edit the message; replying in its thread only", "code", f.code, "ts", th.TS)
		return nil
	}
	return err
}

// deployRank orders a deploy's lifecycle so a late or replayed event never
// turns the message back to an earlier state.
func deployRank(typ string) int {
	switch typ {
	case notify.CatPlan + "." + notify.ActReady:
		return 1
	case notify.CatPlan + "." + notify.ActAwaitingApproval:
		return 2
	case notify.CatDeploy + "." + notify.ActStarted:
		return 3
	case notify.CatDeploy + "." + notify.ActSucceeded, notify.CatDeploy + "." + notify.ActFailed:
		return 4
	case notify.CatRollback + "." + notify.ActStarted:
		return 5
	case notify.CatRollback + "." + notify.ActSucceeded, notify.CatRollback + "." + notify.ActFailed:
		return 6
	}
	return 0
}

// mergeData is the newer event's data, with what it leaves empty taken from
// the earlier one (a deploy.succeeded need not repeat the author or PR).
// Outcome fields (error, duration, step) are the newer event's only.
func mergeData(old, cur notify.Data) notify.Data {
	out := cur
	pick := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	pick(&out.Repo, old.Repo)
	pick(&out.App, old.App)
	pick(&out.Kind, old.Kind)
	pick(&out.Revision, old.Revision)
	pick(&out.PreviousRevision, old.PreviousRevision)
	pick(&out.Author, old.Author)
	pick(&out.Message, old.Message)
	pick(&out.DeployID, old.DeployID)
	pick(&out.Summary, old.Summary)
	pick(&out.Reason, old.Reason)
	pick(&out.PlanID, old.PlanID)
	pick(&out.RepoURL, old.RepoURL)
	if out.PR == 0 {
		out.PR = old.PR
	}
	if len(out.Changes) == 0 {
		out.Changes = old.Changes
	}
	if out.FirstSeen == nil {
		out.FirstSeen = old.FirstSeen
	}
	return out
}

// maxStored is how many changes, drift items or diagnostics a KV record keeps.
const maxStored = 200

// capData bounds what a KV record keeps of an event's data.
func capData(d notify.Data) notify.Data {
	if len(d.Changes) > maxStored {
		d.Changes = d.Changes[:maxStored]
	}
	if len(d.Drift) > maxStored {
		d.Drift = d.Drift[:maxStored]
	}
	if len(d.Diagnostics) > maxStored {
		d.Diagnostics = d.Diagnostics[:maxStored]
	}
	d.Error = truncate(d.Error, 4*maxErrorText)
	d.Message = truncate(d.Message, 1000)
	d.Summary = truncate(d.Summary, 2000)
	return d
}

// driftFingerprint identifies a drift's content: the producer's fingerprint
// (data.extra.fingerprint) when given, else a hash of the drifted items.
func driftFingerprint(d notify.Data) string {
	if fp := d.Extra["fingerprint"]; fp != "" {
		return fp
	}
	b, _ := json.Marshal(d.Drift)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
