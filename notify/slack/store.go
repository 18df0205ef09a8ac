package slack

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/notify"
)

// store keeps, in a KV bucket, what the notifier posted:
//
//	event.<id>.<channel>            → posted: the event was fully delivered there
//	deploy.<channel>.<deploy id>    → thread: the deploy's message
//	drift.<channel>.<repo>.<app>    → thread: the app's latest drift message
//
// Key parts are escaped with kv.EscapeKeyPart so any channel name or id fits.
// The notifier handles one event at a time (MaxAckPending 1), so plain Puts
// are safe. The records outlive the process, which makes delivery
// exactly-once across redeliveries, restarts and replays.
type store struct {
	kv jetstream.KeyValue
}

// posted records that an event was delivered to a channel.
type posted struct {
	Channel string `json:"channel"` // channel id Slack answered with
	TS      string `json:"ts"`      // the message (or reply) posted for the event
}

// thread is a message that later events edit and reply under.
type thread struct {
	Channel     string      `json:"channel"`
	TS          string      `json:"ts"`
	Type        string      `json:"type"`           // category.action shown on the message now
	Rank        int         `json:"rank,omitempty"` // deploy: lifecycle position of Type
	Fingerprint string      `json:"fingerprint,omitempty"`
	Resolved    bool        `json:"resolved,omitempty"`
	Data        notify.Data `json:"data"` // what the message shows (capped)
}

func (st *store) get(ctx context.Context, key string, v any) (bool, error) {
	ok, err := kv.GetJSON(ctx, st.kv, key, v)
	if err != nil {
		return false, fmt.Errorf("slack store: %w", err)
	}
	return ok, nil
}

func (st *store) put(ctx context.Context, key string, v any) error {
	if err := kv.PutJSON(ctx, st.kv, key, v); err != nil {
		return fmt.Errorf("slack store: %w", err)
	}
	return nil
}

func eventKey(id, channel string) string {
	return "event." + kv.EscapeKeyPart(id) + "." + kv.EscapeKeyPart(channel)
}

func deployKey(channel, deployID string) string {
	return "deploy." + kv.EscapeKeyPart(channel) + "." + kv.EscapeKeyPart(deployID)
}

func driftKey(channel, repo, app string) string {
	return "drift." + kv.EscapeKeyPart(channel) + "." + kv.EscapeKeyPart(repo) + "." + kv.EscapeKeyPart(app)
}
