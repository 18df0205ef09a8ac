package notify

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
	"github.com/slack-go/slack"

	"github.com/driftless/driftless/internal/metrics"
)

// SlackBucket is the default KV bucket where the Slack notifier remembers
// what it posted: event id → message, deploy id → the deploy's message,
// repo/app → the open drift's message.
const SlackBucket = "DRIFTLESS_SLACK"

// DefaultSlackDurable is the default name of the notifier's durable consumer.
const DefaultSlackDurable = "driftless-slack"

const (
	slackAckWait     = 2 * time.Minute  // the consumer's AckWait; InProgress keeps long waits alive
	slackCallTimeout = 30 * time.Second // one Slack API call
	slackFetchWait   = time.Second      // one pull request
	slackKeepFor     = 90 * 24 * time.Hour
)

// SlackRoute sends the events matching any of Events to Channel.
type SlackRoute struct {
	// Events are patterns on "category.action": "deploy.*", "drift.*",
	// "rollback.failed", "*.failed", or "*" for every event.
	Events []string
	// Channel is a channel name ("#deploys") or id ("C0123456").
	Channel string
}

// SlackOptions configure the Slack notifier.
type SlackOptions struct {
	// Token is the bot token. It is a secret: it is never logged and is
	// scrubbed from every message text and every logged error.
	Token string
	// APIURL is an optional Slack-compatible endpoint ("https://slack.com/api/"
	// when empty). It must end with a slash.
	APIURL string
	// Routes map event patterns to channels; an event may match several.
	Routes []SlackRoute
	// Durable names the JetStream durable consumer (DefaultSlackDurable when
	// empty). Replicas sharing it share the work, one event at a time.
	Durable string
	// Bucket names the KV bucket of posted messages (SlackBucket when empty).
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
	// Secrets are further values scrubbed from everything posted and logged
	// (API tokens, passwords from the controller config).
	Secrets []string
	// Replicas of the KV bucket (default 1); match the stream's in a cluster.
	Replicas int
	// HTTPClient is optional; by default one with a 30 s timeout is used.
	HTTPClient *http.Client
}

// Slack posts driftless events to Slack. It consumes DRIFTLESS_EVENTS through
// a durable pull consumer with explicit acks and acknowledges an event only
// once Slack accepted everything it had to post for it. What it posted is
// recorded in a KV bucket, so a redelivered or replayed event never posts
// twice and a deploy's later events edit the deploy's message after a
// restart. Events are handled one at a time and in stream order (the
// consumer allows a single unacknowledged message), which keeps a deploy's
// started, succeeded and rollback events in order across retries.
type Slack struct {
	js      jetstream.JetStream
	api     *slack.Client
	opts    SlackOptions
	routes  []slackRoute
	m       *metrics.Metrics
	log     *slog.Logger
	scrub   *strings.Replacer
	backoff func(int) time.Duration

	// sleep waits d or until ctx ends; tests replace it to observe waits.
	sleep func(ctx context.Context, d time.Duration) error
	// fetchWait bounds one pull request.
	fetchWait time.Duration
}

type slackRoute struct {
	patterns [][]string
	channel  string
}

// NewSlack validates opts and returns a notifier; Run starts it. m may be
// nil. The token is only checked for presence here: Slack is not contacted
// until Run.
func NewSlack(js jetstream.JetStream, opts SlackOptions, m *metrics.Metrics, log *slog.Logger) (*Slack, error) {
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
		opts.Durable = DefaultSlackDurable
	}
	if opts.Bucket == "" {
		opts.Bucket = SlackBucket
	}
	if opts.KeepFor <= 0 {
		opts.KeepFor = slackKeepFor
	}
	if opts.AuthRetry <= 0 {
		opts.AuthRetry = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	routes := make([]slackRoute, 0, len(opts.Routes))
	for i, r := range opts.Routes {
		if strings.TrimSpace(r.Channel) == "" {
			return nil, fmt.Errorf("slack notifier: route %d: channel is empty", i+1)
		}
		if len(r.Events) == 0 {
			return nil, fmt.Errorf("slack notifier: route %d (%s): no event patterns", i+1, r.Channel)
		}
		sr := slackRoute{channel: r.Channel}
		for _, p := range r.Events {
			toks, err := parseEventPattern(p)
			if err != nil {
				return nil, fmt.Errorf("slack notifier: route %d (%s): %w", i+1, r.Channel, err)
			}
			sr.patterns = append(sr.patterns, toks)
		}
		routes = append(routes, sr)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: slackCallTimeout}
	}
	copts := []slack.Option{slack.OptionHTTPClient(hc)}
	if opts.APIURL != "" {
		copts = append(copts, slack.OptionAPIURL(opts.APIURL))
	}
	s := &Slack{
		js:        js,
		api:       slack.New(opts.Token, copts...),
		opts:      opts,
		routes:    routes,
		m:         m,
		log:       log.With("component", "slack"),
		scrub:     newScrubber(append([]string{opts.Token}, opts.Secrets...)),
		backoff:   opts.Backoff,
		sleep:     sleepCtx,
		fetchWait: slackFetchWait,
	}
	if s.backoff == nil {
		s.backoff = defaultSlackBackoff
	}
	return s, nil
}

func defaultSlackBackoff(attempt int) time.Duration {
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
// Run must not be called twice at once on the same Slack.
func (s *Slack) Run(ctx context.Context) error {
	st, err := s.setup(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.log.Info("slack notifier started", "durable", s.opts.Durable, "routes", len(s.routes))
	failures := 0
	for ctx.Err() == nil {
		// One message per pull request, and a request that is never
		// abandoned: it ends by itself after fetchWait, so no message is
		// ever delivered to a client that stopped listening (it would sit
		// unacknowledged until AckWait). Shutdown waits at most fetchWait.
		batch, err := st.cons.Fetch(1, jetstream.FetchMaxWait(s.fetchWait))
		if err == nil {
			for msg := range batch.Messages() {
				if ctx.Err() != nil {
					_ = msg.Nak() // hand it back at once
					continue
				}
				s.handle(ctx, st, msg)
			}
			err = batch.Error()
		}
		if err == nil || ctx.Err() != nil {
			failures = 0
			continue
		}
		failures++
		s.log.Warn("slack notifier: fetch failed", "err", s.clean(err.Error()), "attempt", failures)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
			errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
			// The consumer was deleted under us (a pull to a missing consumer
			// has no responders): set it up again, with backoff inside.
			if st, err = s.setup(ctx); err != nil {
				break
			}
			continue
		}
		_ = s.sleep(ctx, s.backoff(failures))
	}
	s.log.Info("slack notifier stopped")
	return nil
}

type slackState struct {
	cons  jetstream.Consumer
	store *slackStore
}

// setup opens the KV bucket and the durable consumer, retrying until ctx
// ends (the stream may not exist yet when the notifier starts first).
func (s *Slack) setup(ctx context.Context) (*slackState, error) {
	for attempt := 1; ; attempt++ {
		st, err := s.trySetup(ctx)
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.log.Warn("slack notifier: waiting for JetStream", "err", s.clean(err.Error()), "attempt", attempt)
		if err := s.sleep(ctx, s.backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

func (s *Slack) trySetup(ctx context.Context) (*slackState, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.opts.Bucket,
		Description: "driftless Slack notifier: messages posted per event, deploy and drift",
		History:     1,
		TTL:         s.opts.KeepFor,
		Replicas:    max(s.opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", s.opts.Bucket, err)
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, Stream, jetstream.ConsumerConfig{
		Durable:       s.opts.Durable,
		Description:   "driftless Slack notifier",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       slackAckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    -1,
		MaxAckPending: 1, // one event at a time, in order, across replicas
		FilterSubject: SubjectPrefix + ".>",
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", s.opts.Durable, Stream, err)
	}
	return &slackState{cons: cons, store: &slackStore{kv: kv}}, nil
}

// handle delivers one event to every channel it routes to and settles the
// message: ack when all went through, NakWithDelay when something may work
// later, Term when it never will.
func (s *Slack) handle(ctx context.Context, st *slackState, msg jetstream.Msg) {
	var ev Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.ID == "" || ev.Category() == "" {
		s.log.Warn("slack notifier: dropping a message that is not a driftless event", "subject", msg.Subject())
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
	log := s.log.With(attrs...)
	channels := s.route(ev)
	if len(channels) == 0 {
		s.settleAck(ctx, msg, log)
		return
	}
	var worst *slackFailure
	for _, ch := range channels {
		d := &delivery{s: s, ctx: ctx, msg: msg, ev: ev, route: ch, store: st.store, log: log.With("channel", ch)}
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
		s.settleAck(ctx, msg, log)
	case worst.kind == failAuth:
		_ = msg.NakWithDelay(s.opts.AuthRetry)
	case worst.kind == failTransient:
		n := 1
		if md, err := msg.Metadata(); err == nil {
			n = int(md.NumDelivered)
		}
		_ = msg.NakWithDelay(s.backoff(n))
	default: // channel or permanent: retrying cannot help
		_ = msg.Term()
	}
}

func (s *Slack) settleAck(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		// The event will come again; the KV record makes that a no-op.
		log.Warn("slack notifier: ack failed", "err", s.clean(err.Error()))
	}
}

// route returns the channels whose patterns match the event, each once.
func (s *Slack) route(ev Event) []string {
	cat, act := ev.Category(), ev.Action()
	var out []string
	seen := map[string]bool{}
	for _, r := range s.routes {
		if seen[r.channel] {
			continue
		}
		for _, p := range r.patterns {
			if matchEventPattern(p, cat, act) {
				out = append(out, r.channel)
				seen[r.channel] = true
				break
			}
		}
	}
	return out
}

// parseEventPattern splits a route pattern into its category and action
// tokens; "*" alone (or ">") matches everything.
func parseEventPattern(p string) ([]string, error) {
	p = strings.TrimSpace(p)
	if p == "*" || p == ">" {
		return []string{"*", "*"}, nil
	}
	cat, act, ok := strings.Cut(p, ".")
	if !ok {
		if p == "" || strings.ContainsAny(p, " *>") {
			return nil, fmt.Errorf("invalid event pattern %q (want category.action, category.* or *)", p)
		}
		return []string{p, "*"}, nil // "deploy" means "deploy.*"
	}
	if cat == "" || act == "" || strings.Contains(act, ".") || strings.ContainsAny(cat+act, " >") ||
		(strings.Contains(cat, "*") && cat != "*") || (strings.Contains(act, "*") && act != "*") {
		return nil, fmt.Errorf("invalid event pattern %q (want category.action, category.* or *)", p)
	}
	return []string{cat, act}, nil
}

func matchEventPattern(p []string, cat, act string) bool {
	return (p[0] == "*" || p[0] == cat) && (p[1] == "*" || p[1] == act)
}
