package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	slackapi "github.com/slack-go/slack"

	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/wait"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/notify/durable"
)

// DefaultBucket is the default KV bucket where the notifier remembers what
// it posted: event id → message, deploy id → the deploy's message,
// repo/app → the open drift's message.
const DefaultBucket = "DRIFTLESS_SLACK"

// DefaultDurable is the default name of the notifier's durable consumer.
const DefaultDurable = "driftless-slack"

const (
	ackWait     = 2 * time.Minute  // the consumer's AckWait; InProgress keeps long waits alive
	callTimeout = 30 * time.Second // one Slack API call
	fetchWait   = time.Second      // one pull request
	keepFor     = 90 * 24 * time.Hour
)

// Route sends the events matching any of Events to Channel.
type Route struct {
	// Events are patterns of notify.ParsePattern's grammar: "deploy.*",
	// "drift.*", "rollback.failed", "*.failed", or "*" for every event.
	Events []string
	// Channel is a channel name ("#deploys") or id ("C0123456").
	Channel string
}

// Options configure the notifier.
type Options struct {
	// Token is the bot token. It is a secret: it is never logged and is
	// scrubbed from every message text and every logged error.
	Token string
	// APIURL is an optional Slack-compatible endpoint ("https://slack.com/api/"
	// when empty). It must end with a slash.
	APIURL string
	// Routes map event patterns to channels; an event may match several.
	Routes []Route
	// Durable names the JetStream durable consumer (DefaultDurable when
	// empty). Replicas sharing it share the work, one event at a time.
	Durable string
	// Bucket names the KV bucket of posted messages (DefaultBucket when empty).
	Bucket string
	// KeepFor is how long posted-message records are kept (90 days when 0).
	// Keep it longer than the stream's MaxAge (30 days by default): a replay
	// of events older than KeepFor would post them again.
	KeepFor time.Duration
	// RepoURLs maps a repo name to its clone URL, so revisions and PRs link
	// to the forge (github.com, gitlab.com, bitbucket.org; https, ssh:// or
	// git@host:path forms). Data.RepoURL of the event is used when absent.
	RepoURLs map[string]string
	// Backoff is the delay before attempt n (n ≥ 1) after a transient Slack
	// failure. Default: exponential from 1s, capped at 1m.
	Backoff func(attempt int) time.Duration
	// AuthRetry is how long to wait before retrying after Slack rejected the
	// token (invalid_auth, not_authed, account_inactive, ...). Default 1m.
	AuthRetry time.Duration
	// Scrub removes secrets from every text posted and every error logged:
	// the controller's redactor (redact.Redactor.String). The token is
	// scrubbed whether or not Scrub is set.
	Scrub func(string) string
	// Replicas of the KV bucket (default 1); match the stream's in a cluster.
	Replicas int
	// HTTPClient is optional; by default one with a 30 s timeout is used.
	HTTPClient *http.Client
}

// Notifier posts driftless events to Slack. It acknowledges an event only
// once Slack accepted everything it had to post for it. What it posted is
// recorded in a KV bucket, so a redelivered or replayed event never posts
// twice and a deploy's later events edit the deploy's message after a
// restart. Events are handled one at a time and in stream order (the
// consumer allows a single unacknowledged message), which keeps a deploy's
// started, succeeded and rollback events in order across retries.
type Notifier struct {
	js      jetstream.JetStream
	api     *slackapi.Client
	opts    Options
	routes  []route
	render  RenderOptions
	m       *metrics.Metrics
	log     *slog.Logger
	backoff func(int) time.Duration

	// sleep waits d or until ctx ends; tests replace it to observe waits.
	sleep func(ctx context.Context, d time.Duration) error
	// fetchWait bounds one pull request.
	fetchWait time.Duration
}

type route struct {
	patterns []notify.Pattern
	channel  string
}

// New validates opts and returns a notifier; Run starts it. m may be nil.
// The token is only checked for presence here: Slack is not contacted until
// Run. Route patterns are checked against the grammar only; the config
// checks their names against the event catalogue.
func New(js jetstream.JetStream, opts Options, m *metrics.Metrics, log *slog.Logger) (*Notifier, error) {
	if js == nil {
		return nil, errors.New("slack notifier: no JetStream context")
	}
	if strings.TrimSpace(opts.Token) == "" {
		return nil, errors.New("slack notifier: token is empty")
	}
	if opts.APIURL != "" && !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.Durable == "" {
		opts.Durable = DefaultDurable
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.KeepFor <= 0 {
		opts.KeepFor = keepFor
	}
	if opts.AuthRetry <= 0 {
		opts.AuthRetry = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	routes := make([]route, 0, len(opts.Routes))
	for i, r := range opts.Routes {
		if strings.TrimSpace(r.Channel) == "" {
			return nil, fmt.Errorf("slack notifier: route %d: channel is empty", i+1)
		}
		if len(r.Events) == 0 {
			return nil, fmt.Errorf("slack notifier: route %d (%s): no event patterns", i+1, r.Channel)
		}
		rt := route{channel: r.Channel}
		for _, s := range r.Events {
			p, err := notify.ParsePattern(s)
			if err != nil {
				return nil, fmt.Errorf("slack notifier: route %d (%s): invalid event pattern: %w", i+1, r.Channel, err)
			}
			rt.patterns = append(rt.patterns, p)
		}
		routes = append(routes, rt)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: callTimeout}
	}
	copts := []slackapi.Option{slackapi.OptionHTTPClient(hc)}
	if opts.APIURL != "" {
		copts = append(copts, slackapi.OptionAPIURL(opts.APIURL))
	}
	n := &Notifier{
		js:        js,
		api:       slackapi.New(opts.Token, copts...),
		opts:      opts,
		routes:    routes,
		render:    RenderOptions{Scrub: scrubber(opts.Token, opts.Scrub), RepoURLs: opts.RepoURLs},
		m:         m,
		log:       log,
		backoff:   opts.Backoff,
		sleep:     wait.Sleep,
		fetchWait: fetchWait,
	}
	if n.backoff == nil {
		n.backoff = durable.Backoff
	}
	return n, nil
}

// scrubber is the caller's scrub followed by a redactor of the token, so
// that the token never leaves even when the caller's forgets it.
func scrubber(token string, scrub func(string) string) func(string) string {
	own := redact.New(token)
	if scrub == nil {
		return own.String
	}
	return func(s string) string { return own.String(scrub(s)) }
}

// clean scrubs secrets from text that is logged.
func (n *Notifier) clean(text string) string { return n.render.clean(text) }

// Run consumes events and posts them until ctx ends; it then returns nil
// after finishing (or handing back) the event in hand. It waits for the
// stream DRIFTLESS_EVENTS to exist; it never gives up on Slack errors.
// Run must not be called twice at once on the same Notifier.
func (n *Notifier) Run(ctx context.Context) error {
	return durable.Run(ctx, n.js, durable.Config{
		Name:        "slack notifier",
		Durable:     n.opts.Durable,
		Description: "driftless Slack notifier",
		Subjects:    []string{notify.SubjectPrefix + ".>"},
		AckWait:     ackWait,
		Bucket: &durable.Bucket{
			Name:        n.opts.Bucket,
			Description: "driftless Slack notifier: messages posted per event, deploy and drift",
			TTL:         n.opts.KeepFor,
			Replicas:    n.opts.Replicas,
		},
		Backoff:    n.backoff,
		Handle:     n.handle,
		Scrub:      n.clean,
		StartAttrs: []any{"routes", len(n.routes)},
		Log:        n.log,
		FetchWait:  n.fetchWait,
	})
}

// errNotEvent drops a message that is not a driftless event.
var errNotEvent = errors.New("not a driftless event")

// handle delivers one event to every channel it routes to; its error
// settles the message: nil (ack) when all went through, Retry when
// something may work later, Drop when it never will.
func (n *Notifier) handle(ctx context.Context, m *durable.Msg) error {
	var ev notify.Event
	if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.ID == "" || ev.Category() == "" {
		n.log.Warn("slack notifier: dropping a message that is not a driftless event", "subject", m.Subject())
		return durable.Drop(errNotEvent)
	}
	attrs := []any{"event_id", ev.ID, "type", ev.Category() + "." + ev.Action(), "repo", ev.Data.Repo}
	if ev.Data.App != "" {
		attrs = append(attrs, "app", ev.Data.App)
	}
	if ev.Data.Revision != "" {
		attrs = append(attrs, "revision", ev.Data.Revision)
	}
	if ev.Data.DeployID != "" {
		attrs = append(attrs, "deploy_id", ev.Data.DeployID)
	}
	log := n.log.With(attrs...)
	m.Log = log
	channels := n.route(ev)
	if len(channels) == 0 {
		return nil
	}
	st := &store{kv: m.KV}
	var worst *failure
	for _, ch := range channels {
		d := &delivery{n: n, ctx: ctx, msg: m, ev: ev, route: ch, store: st, log: log.With("channel", ch)}
		err := d.run()
		if err == nil {
			continue
		}
		if errors.Is(err, errShutdown) {
			// Run's context ended: the kit hands the event back at once so a
			// restarted notifier (or another replica) takes it up without
			// waiting for AckWait.
			return err
		}
		f := asFailure(err)
		d.logFailure(f)
		if worst == nil || f.kind > worst.kind {
			worst = f
		}
		if f.kind == failAuth {
			break // the other channels would be refused the same way
		}
	}
	switch {
	case worst == nil:
		return nil
	case worst.kind == failAuth:
		return durable.Retry(worst, n.opts.AuthRetry)
	case worst.kind == failTransient:
		return durable.Retry(worst, n.backoff(m.Attempt))
	default: // channel or permanent: retrying cannot help
		return durable.Drop(worst)
	}
}

// route returns the channels whose patterns match the event, each once.
func (n *Notifier) route(ev notify.Event) []string {
	cat, act := ev.Category(), ev.Action()
	var out []string
	seen := map[string]bool{}
	for _, r := range n.routes {
		if seen[r.channel] {
			continue
		}
		for _, p := range r.patterns {
			if p.Match(cat, act) {
				out = append(out, r.channel)
				seen[r.channel] = true
				break
			}
		}
	}
	return out
}
