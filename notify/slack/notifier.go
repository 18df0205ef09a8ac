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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	slackapi "github.com/slack-go/slack"

	"github.com/driftless/driftless/internal/metrics"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/notify"
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
		sleep:     sleepCtx,
		fetchWait: fetchWait,
	}
	if n.backoff == nil {
		n.backoff = defaultBackoff
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

func defaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := time.Second
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run consumes events and posts them until ctx ends; it then returns nil
// after finishing (or handing back) the event in hand. It waits for the
// stream DRIFTLESS_EVENTS to exist; it never gives up on Slack errors.
// Run must not be called twice at once on the same Notifier.
func (n *Notifier) Run(ctx context.Context) error {
	st, err := n.setup(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	n.log.Info("slack notifier started", "durable", n.opts.Durable, "routes", len(n.routes))
	failures := 0
	for ctx.Err() == nil {
		// One message per pull request, and a request that is never
		// abandoned: it ends by itself after fetchWait, so no message is
		// ever delivered to a client that stopped listening (it would sit
		// unacknowledged until AckWait). Shutdown waits at most fetchWait.
		batch, err := st.cons.Fetch(1, jetstream.FetchMaxWait(n.fetchWait))
		if err == nil {
			for msg := range batch.Messages() {
				if ctx.Err() != nil {
					_ = msg.Nak() // hand it back at once
					continue
				}
				n.handle(ctx, st, msg)
			}
			err = batch.Error()
		}
		if err == nil || ctx.Err() != nil {
			failures = 0
			continue
		}
		failures++
		n.log.Warn("slack notifier: fetch failed", "err", n.clean(err.Error()), "attempt", failures)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
			errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
			// The consumer was deleted under us (a pull to a missing consumer
			// has no responders): set it up again, with backoff inside.
			if st, err = n.setup(ctx); err != nil {
				break
			}
			continue
		}
		_ = n.sleep(ctx, n.backoff(failures))
	}
	n.log.Info("slack notifier stopped")
	return nil
}

type consumerState struct {
	cons  jetstream.Consumer
	store *store
}

// setup opens the KV bucket and the durable consumer, retrying until ctx
// ends (the stream may not exist yet when the notifier starts first).
func (n *Notifier) setup(ctx context.Context) (*consumerState, error) {
	for attempt := 1; ; attempt++ {
		st, err := n.trySetup(ctx)
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		n.log.Warn("slack notifier: waiting for JetStream", "err", n.clean(err.Error()), "attempt", attempt)
		if err := n.sleep(ctx, n.backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

func (n *Notifier) trySetup(ctx context.Context) (*consumerState, error) {
	kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.opts.Bucket,
		Description: "driftless Slack notifier: messages posted per event, deploy and drift",
		History:     1,
		TTL:         n.opts.KeepFor,
		Replicas:    max(n.opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", n.opts.Bucket, err)
	}
	cons, err := n.js.CreateOrUpdateConsumer(ctx, notify.Stream, jetstream.ConsumerConfig{
		Durable:       n.opts.Durable,
		Description:   "driftless Slack notifier",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		MaxAckPending: 1, // one event at a time, in order, across replicas
		FilterSubject: notify.SubjectPrefix + ".>",
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", n.opts.Durable, notify.Stream, err)
	}
	return &consumerState{cons: cons, store: &store{kv: kv}}, nil
}

// handle delivers one event to every channel it routes to and settles the
// message: ack when all went through, NakWithDelay when something may work
// later, Term when it never will.
func (n *Notifier) handle(ctx context.Context, st *consumerState, msg jetstream.Msg) {
	var ev notify.Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.ID == "" || ev.Category() == "" {
		n.log.Warn("slack notifier: dropping a message that is not a driftless event", "subject", msg.Subject())
		_ = msg.Term()
		return
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
	channels := n.route(ev)
	if len(channels) == 0 {
		n.settleAck(ctx, msg, log)
		return
	}
	var worst *failure
	for _, ch := range channels {
		d := &delivery{n: n, ctx: ctx, msg: msg, ev: ev, route: ch, store: st.store, log: log.With("channel", ch)}
		err := d.run()
		if err == nil {
			continue
		}
		if errors.Is(err, errShutdown) {
			// Hand the event back at once so a restarted notifier (or another
			// replica) takes it up without waiting for AckWait.
			_ = msg.Nak()
			return
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
		n.settleAck(ctx, msg, log)
	case worst.kind == failAuth:
		_ = msg.NakWithDelay(n.opts.AuthRetry)
	case worst.kind == failTransient:
		attempt := 1
		if md, err := msg.Metadata(); err == nil {
			attempt = int(md.NumDelivered)
		}
		_ = msg.NakWithDelay(n.backoff(attempt))
	default: // channel or permanent: retrying cannot help
		_ = msg.Term()
	}
}

func (n *Notifier) settleAck(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		// The event will come again; the KV record makes that a no-op.
		log.Warn("slack notifier: ack failed", "err", n.clean(err.Error()))
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
