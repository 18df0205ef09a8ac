package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"
)

// errShutdown means Run's context ended while an event waited (on a rate
// limit): the event goes back to the stream untouched.
var errShutdown = errors.New("slack notifier shutting down")

type failKind int

// Failure kinds, ordered: when channels of one event fail differently, the
// highest decides how the message is settled.
const (
	failChannel   failKind = iota + 1 // unknown channel, bot not invited: Term
	failPermanent                     // Slack refused this message: Term
	failTransient                     // network, 5xx, KV: NakWithDelay(Backoff)
	failAuth                          // bad token: NakWithDelay(AuthRetry)
)

func (k failKind) String() string {
	switch k {
	case failChannel:
		return "channel"
	case failPermanent:
		return "permanent"
	case failTransient:
		return "transient"
	case failAuth:
		return "auth"
	}
	return "unknown"
}

// slackFailure is a classified failure of one Slack call or KV operation.
type slackFailure struct {
	kind   failKind
	method string // Slack method or store operation
	code   string // Slack error code, when Slack answered ok=false
	err    error
}

func (f *slackFailure) Error() string {
	if f.code != "" {
		return fmt.Sprintf("%s: %s", f.method, f.code)
	}
	return fmt.Sprintf("%s: %v", f.method, f.err)
}

func (f *slackFailure) Unwrap() error { return f.err }

func asFailure(err error) *slackFailure {
	var f *slackFailure
	if errors.As(err, &f) {
		return f
	}
	return &slackFailure{kind: failTransient, method: "store", err: err}
}

// classifySlackError decides, from the error's type and Slack's error code,
// whether retrying can help.
func classifySlackError(method string, err error) *slackFailure {
	f := &slackFailure{kind: failTransient, method: method, err: err}
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return f // network errors, HTTP status errors (5xx, a wrong api_url): retry
	}
	f.code = se.Err
	switch se.Err {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
		"no_permission", "missing_scope", "not_allowed_token_type", "org_login_required",
		"ekm_access_denied", "team_access_not_granted", "access_denied":
		f.kind = failAuth
	case "channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
		"restricted_action", "restricted_action_read_only_channel",
		"restricted_action_thread_only_channel", "restricted_action_non_threadable_channel":
		f.kind = failChannel
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable",
		"request_timeout", "team_added_to_org":
		f.kind = failTransient
	default:
		f.kind = failPermanent // invalid_blocks, msg_too_long, message_not_found, ...
	}
	return f
}

// delivery is one event on its way to one routed channel.
type delivery struct {
	s     *Slack
	ctx   context.Context // Run's: ends waits; calls and writes run detached
	msg   jetstream.Msg
	ev    Event
	route string // the routed channel as configured
	store *slackStore
	log   *slog.Logger
}

// opCtx bounds one call or KV write, detached from Run's context so that
// shutdown never cuts a call Slack may already have carried out before its
// result is recorded.
func (d *delivery) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(d.ctx), slackCallTimeout)
}

func (d *delivery) get(key string, v any) (bool, error) {
	ctx, cancel := d.opCtx()
	defer cancel()
	ok, err := d.store.get(ctx, key, v)
	if err != nil {
		return false, &slackFailure{kind: failTransient, method: "kv get", err: err}
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
		_ = sleepCtx(ctx, time.Duration(attempt)*100*time.Millisecond)
		cancel()
	}
	return &slackFailure{kind: failTransient, method: "kv put", err: err}
}

// run delivers the event to the channel unless the KV says it already was.
func (d *delivery) run() error {
	var done slackPosted
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
	case cat == CatDrift && (act == ActDetected || act == ActResolved):
		return d.drift()
	case (cat == CatDeploy || cat == CatRollback || cat == CatPlan) && d.ev.Data.DeployID != "":
		return d.deploy()
	default:
		ch, ts, err := d.post(d.route, "", d.s.renderStandalone(d.ev))
		if err != nil {
			return err
		}
		return d.done(ch, ts)
	}
}

func (d *delivery) done(channel, ts string) error {
	return d.put(eventKey(d.ev.ID, d.route), slackPosted{Channel: channel, TS: ts})
}

// deploy keeps one message per deploy: the first event of the deploy in
// this channel posts it; every later one edits it (unless it is older in the
// lifecycle than what the message shows) and replies in its thread.
func (d *delivery) deploy() error {
	key := deployKey(d.route, d.ev.Data.DeployID)
	typ := d.ev.Category() + "." + d.ev.Action()
	var th slackThread
	found, err := d.get(key, &th)
	if err != nil {
		return err
	}
	if !found {
		data := capData(d.ev.Data)
		ch, ts, err := d.post(d.route, "", d.s.renderDeploy(typ, data))
		if err != nil {
			return err
		}
		th = slackThread{Channel: ch, TS: ts, Type: typ, Rank: deployRank(typ), Data: data}
		if err := d.put(key, th); err != nil {
			return err
		}
		return d.done(ch, ts)
	}
	if r := deployRank(typ); r >= th.Rank {
		merged := capData(mergeData(th.Data, d.ev.Data))
		if err := d.editRoot(th, d.s.renderDeploy(typ, merged)); err != nil {
			return err
		}
		th.Type, th.Rank, th.Data = typ, r, merged
	}
	_, ts, err := d.post(th.Channel, th.TS, d.s.renderStep(d.ev))
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
	typ := d.ev.Category() + "." + d.ev.Action()
	var th slackThread
	found, err := d.get(key, &th)
	if err != nil {
		return err
	}
	open := found && !th.Resolved
	fp := driftFingerprint(d.ev.Data)
	var note string
	switch {
	case d.ev.Action() == ActDetected && !open:
		data := capData(d.ev.Data)
		ch, ts, err := d.post(d.route, "", d.s.renderDrift(typ, data))
		if err != nil {
			return err
		}
		if err := d.put(key, slackThread{Channel: ch, TS: ts, Type: typ, Fingerprint: fp, Data: data}); err != nil {
			return err
		}
		return d.done(ch, ts)
	case d.ev.Action() == ActResolved && !open:
		// Nothing open to close here (posted before this route existed, or
		// already resolved): say it on its own.
		ch, ts, err := d.post(d.route, "", d.s.renderDrift(typ, capData(d.ev.Data)))
		if err != nil {
			return err
		}
		return d.done(ch, ts)
	case d.ev.Action() == ActResolved:
		merged := capData(mergeData(th.Data, d.ev.Data))
		if len(d.ev.Data.Drift) == 0 {
			merged.Drift = th.Data.Drift // show what was resolved
		}
		if err := d.editRoot(th, d.s.renderDrift(typ, merged)); err != nil {
			return err
		}
		th.Type, th.Resolved, th.Data = typ, true, merged
		note = "resolved"
	case fp != th.Fingerprint:
		merged := capData(mergeData(th.Data, d.ev.Data))
		if err := d.editRoot(th, d.s.renderDrift(typ, merged)); err != nil {
			return err
		}
		th.Fingerprint, th.Data = fp, merged
		note = "changed"
	default:
		note = "still"
	}
	_, ts, err := d.post(th.Channel, th.TS, d.s.renderDriftStep(d.ev, note))
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
func (d *delivery) editRoot(th slackThread, m slackMessage) error {
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

func (d *delivery) post(channel, threadTS string, m slackMessage) (string, string, error) {
	opts := []slack.MsgOption{
		slack.MsgOptionText(m.text, false),
		slack.MsgOptionBlocks(m.blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ch, ts string
	err := d.call("chat.postMessage", func(ctx context.Context) error {
		var err error
		ch, ts, err = d.s.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", "", err
	}
	if ch == "" {
		ch = channel
	}
	return ch, ts, nil
}

func (d *delivery) update(channel, ts string, m slackMessage) error {
	opts := []slack.MsgOption{
		slack.MsgOptionText(m.text, false),
		slack.MsgOptionBlocks(m.blocks...),
	}
	return d.call("chat.update", func(ctx context.Context) error {
		_, _, _, err := d.s.api.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
}

// call runs one Slack API call, waiting out rate limits (Retry-After) and
// retrying the same call; other failures are classified and returned.
func (d *delivery) call(method string, fn func(context.Context) error) error {
	for {
		_ = d.msg.InProgress()
		ctx, cancel := d.opCtx()
		err := fn(ctx)
		cancel()
		if err == nil {
			d.s.count("ok")
			return nil
		}
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			d.s.count("retry")
			wait := max(rl.RetryAfter, time.Second)
			d.log.Info("slack: rate limited; waiting", "method", method, "retry_after", wait)
			if err := d.wait(wait); err != nil {
				return errShutdown
			}
			continue
		}
		f := classifySlackError(method, err)
		if f.kind == failTransient {
			d.s.count("retry")
		} else {
			d.s.count("error")
		}
		return f
	}
}

// wait sleeps d (ending early with Run's context), telling the server the
// event is still being worked on so it is not redelivered meanwhile.
func (d *delivery) wait(total time.Duration) error {
	for total > 0 {
		step := min(total, slackAckWait/4)
		if err := d.s.sleep(d.ctx, step); err != nil {
			return err
		}
		_ = d.msg.InProgress()
		total -= step
	}
	return d.ctx.Err()
}

func (d *delivery) logFailure(f *slackFailure) {
	attrs := []any{"method", f.method}
	if f.code != "" {
		attrs = append(attrs, "code", f.code)
	} else if f.err != nil {
		attrs = append(attrs, "err", d.s.clean(f.err.Error()))
	}
	switch f.kind {
	case failAuth:
		d.log.Error("slack rejected the bot token or its scopes: fix slack.token; retrying later",
			append(attrs, "retry_in", d.s.opts.AuthRetry)...)
	case failChannel:
		d.log.Error("slack channel unavailable: check the route's channel and invite the bot; event dropped for this channel", attrs...)
	case failPermanent:
		d.log.Error("slack refused the message; event dropped for this channel", attrs...)
	default:
		d.log.Warn("slack call failed; retrying with backoff", attrs...)
	}
}

func (s *Slack) count(result string) {
	if s.m != nil && s.m.SlackPosts != nil {
		s.m.SlackPosts.WithLabelValues(result).Inc()
	}
}

// deployRank orders a deploy's lifecycle so a late or replayed event never
// turns the message back to an earlier state.
func deployRank(typ string) int {
	switch typ {
	case "plan.ready":
		return 1
	case "plan.awaiting_approval":
		return 2
	case "deploy.started":
		return 3
	case "deploy.succeeded", "deploy.failed":
		return 4
	case "rollback.started":
		return 5
	case "rollback.succeeded", "rollback.failed":
		return 6
	}
	return 0
}

// mergeData is the newer event's data, with what it leaves empty taken from
// the earlier one (a deploy.succeeded need not repeat the author or PR).
// Outcome fields (error, duration, step) are the newer event's only.
func mergeData(old, cur Data) Data {
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
