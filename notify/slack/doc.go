// Package slack posts driftless events to Slack.
//
// A Notifier consumes the JetStream stream DRIFTLESS_EVENTS through a
// durable pull consumer with explicit acks, one event at a time and in
// stream order, and routes each event to the channels whose patterns
// (notify.ParsePattern) match it. A deploy gets one message per channel that
// its later events (plan, deploy, rollback) edit in place and reply under; an
// app's drift gets one message that is edited when the drift changes and when
// it is resolved; every other event is a message of its own.
//
// The package is split by job:
//
//   - notifier.go: the options and how each event is settled (ack, retry
//     after a delay, drop); the durable consumer and its loop are
//     notify/durable's;
//   - deliver.go: one event to one channel, using the KV records to edit
//     and reply instead of posting twice;
//   - store.go: the KV bucket of what was posted, which makes delivery
//     exactly-once across redeliveries, restarts and replays;
//   - client.go: the Slack Web API calls, waiting out rate limits
//     (429 Retry-After) and classifying failures (auth, channel,
//     permanent, transient) by error type and Slack error code;
//   - render.go and text.go: Block Kit messages as pure functions of an
//     event (Render, RenderReply, RenderDriftReply), with every text scrubbed
//     of secrets by the caller's redactor, cut to Slack's limits and escaped.
//
// Errors: New fails only on invalid options. Run never gives up on Slack or
// JetStream errors; it logs them and retries, and returns when its context
// ends.
package slack
