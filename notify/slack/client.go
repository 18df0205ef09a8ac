package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	slackapi "github.com/slack-go/slack"
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

// failure is a classified failure of one Slack call or KV operation.
type failure struct {
	kind   failKind
	method string // Slack method or store operation
	code   string // Slack error code, when Slack answered ok=false
	err    error
}

func (f *failure) Error() string {
	if f.code != "" {
		return fmt.Sprintf("%s: %s", f.method, f.code)
	}
	return fmt.Sprintf("%s: %v", f.method, f.err)
}

func (f *failure) Unwrap() error { return f.err }

func asFailure(err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	return &failure{kind: failTransient, method: "store", err: err}
}

// classifyError decides, from the error's type and Slack's error code,
// whether retrying can help.
func classifyError(method string, err error) *failure {
	f := &failure{kind: failTransient, method: method, err: err}
	var se slackapi.SlackErrorResponse
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

// post sends m to channel (in the thread of threadTS when set) and returns
// the channel id and ts Slack answered with.
func (d *delivery) post(channel, threadTS string, m Message) (string, string, error) {
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(m.Text, false),
		slackapi.MsgOptionBlocks(m.Blocks...),
		slackapi.MsgOptionDisableLinkUnfurl(),
		slackapi.MsgOptionDisableMediaUnfurl(),
	}
	if threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	var ch, ts string
	err := d.call("chat.postMessage", func(ctx context.Context) error {
		var err error
		ch, ts, err = d.n.api.PostMessageContext(ctx, channel, opts...)
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

// update replaces the message ts in channel (a channel id) with m.
func (d *delivery) update(channel, ts string, m Message) error {
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(m.Text, false),
		slackapi.MsgOptionBlocks(m.Blocks...),
	}
	return d.call("chat.update", func(ctx context.Context) error {
		_, _, _, err := d.n.api.UpdateMessageContext(ctx, channel, ts, opts...)
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
			d.n.count("ok")
			return nil
		}
		var rl *slackapi.RateLimitedError
		if errors.As(err, &rl) {
			d.n.count("retry")
			wait := max(rl.RetryAfter, time.Second)
			d.log.Info("slack: rate limited; waiting", "method", method, "retry_after", wait)
			if err := d.wait(wait); err != nil {
				return errShutdown
			}
			continue
		}
		f := classifyError(method, err)
		if f.kind == failTransient {
			d.n.count("retry")
		} else {
			d.n.count("error")
		}
		return f
	}
}

// wait sleeps d (ending early with Run's context), telling the server the
// event is still being worked on so it is not redelivered meanwhile.
func (d *delivery) wait(total time.Duration) error {
	for total > 0 {
		step := min(total, ackWait/4)
		if err := d.n.sleep(d.ctx, step); err != nil {
			return err
		}
		_ = d.msg.InProgress()
		total -= step
	}
	return d.ctx.Err()
}

func (d *delivery) logFailure(f *failure) {
	attrs := []any{"method", f.method}
	if f.code != "" {
		attrs = append(attrs, "code", f.code)
	} else if f.err != nil {
		attrs = append(attrs, "err", d.n.clean(f.err.Error()))
	}
	switch f.kind {
	case failAuth:
		d.log.Error("slack rejected the bot token or its scopes: fix slack.token; retrying later",
			append(attrs, "retry_in", d.n.opts.AuthRetry)...)
	case failChannel:
		d.log.Error("slack channel unavailable: check the route's channel and invite the bot; event dropped for this channel", attrs...)
	case failPermanent:
		d.log.Error("slack refused the message; event dropped for this channel", attrs...)
	default:
		d.log.Warn("slack call failed; retrying with backoff", attrs...)
	}
}

func (n *Notifier) count(result string) {
	if n.m != nil && n.m.SlackPosts != nil {
		n.m.SlackPosts.WithLabelValues(result).Inc()
	}
}
