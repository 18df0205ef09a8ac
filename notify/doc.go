// Package notify carries driftless events to the people and systems that
// react to them.
//
// Every event is a CloudEvents 1.0 JSON envelope (Event) published to the
// JetStream stream DRIFTLESS_EVENTS on the subject
// driftless.<category>.<action>.<repo>.<app> (driftless.source.<action>.<repo>
// for source events), with the Nats-Msg-Id header set to the event id so a
// retried publish is stored once. The Slack notifier (package notify/slack),
// the GitHub deployments reporter (notify/forge) and the drift pull
// requests (driftpr) consume that stream through durable consumers, all
// run by package notify/durable.
//
// The event catalogue — every category and its actions (Categories, Actions,
// Types, Known) — is declared once, in catalogue.go; route patterns
// (ParsePattern, Pattern.Check, Pattern.Match) are checked against it.
package notify
