package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics holds every collector driftless exports.
type Metrics struct {
	Reconciles        *prometheus.CounterVec   // repo, app, result (succeeded, failed, noop, invalid)
	ReconcileDuration *prometheus.HistogramVec // repo, kind
	Polls             *prometheus.CounterVec   // repo, result (unchanged, changed, failed)
	PollDuration      *prometheus.HistogramVec // repo
	PollFailures      *prometheus.CounterVec   // repo
	AppsByStatus      *prometheus.GaugeVec     // status
	StacksPlanned     *prometheus.CounterVec   // repo, kind
	DriftedApps       prometheus.Gauge
	DriftScans        *prometheus.CounterVec   // repo, result
	DriftScanDuration *prometheus.HistogramVec // repo, kind
	EventsPublished   *prometheus.CounterVec   // category
	EventPublishFails prometheus.Counter
	EventsDropped     prometheus.Counter     // events the publisher's outbox had to drop (full, unreadable)
	EventOutbox       prometheus.Gauge       // events waiting in the publisher's outbox
	SlackPosts        *prometheus.CounterVec // result (ok, retry, error)
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_reconciles_total", Help: "App reconciles by result.",
		}, []string{"repo", "app", "result"}),
		ReconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "driftless_reconcile_duration_seconds", Help: "Duration of app reconciles (plan and apply).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"repo", "kind"}),
		Polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_polls_total", Help: "Git polls by result.",
		}, []string{"repo", "result"}),
		PollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "driftless_poll_duration_seconds", Help: "Duration of Git polls.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"repo"}),
		PollFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_poll_failures_total", Help: "Git polls that failed.",
		}, []string{"repo"}),
		AppsByStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "driftless_apps", Help: "Apps by status.",
		}, []string{"status"}),
		StacksPlanned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_plans_total", Help: "Plans made, by repo and kind.",
		}, []string{"repo", "kind"}),
		DriftedApps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_drifted_apps", Help: "Apps whose live state drifted from the applied desired state.",
		}),
		DriftScans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_drift_scans_total", Help: "Drift scans by result (clean, drifted, failed).",
		}, []string{"repo", "result"}),
		DriftScanDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "driftless_drift_scan_duration_seconds", Help: "Duration of drift scans.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"repo", "kind"}),
		EventsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_events_published_total", Help: "Events published to NATS, by category.",
		}, []string{"category"}),
		EventPublishFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftless_event_publish_failures_total", Help: "Event publish attempts that failed (and were retried).",
		}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftless_events_dropped_total", Help: "Events dropped by the publisher's outbox (over its size bound, or unreadable).",
		}),
		EventOutbox: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "driftless_event_outbox_events", Help: "Events waiting in the publisher's on-disk outbox for NATS.",
		}),
		SlackPosts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_slack_posts_total", Help: "Slack API calls by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Reconciles, m.ReconcileDuration, m.Polls, m.PollDuration, m.PollFailures,
			m.AppsByStatus, m.StacksPlanned, m.DriftedApps, m.DriftScans, m.DriftScanDuration,
			m.EventsPublished, m.EventPublishFails, m.EventsDropped, m.EventOutbox, m.SlackPosts)
	}
	return m
}
