package driftpr

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"

	"github.com/nats-io/nats.go/jetstream"
)

// LedgerBucket is the JetStream KV bucket of the drifts proposed
// (fingerprint and first seen), one key per app.
const LedgerBucket = "driftless_drift_pr"

// KVLedger is a Ledger in a JetStream KV bucket, shared by every replica.
type KVLedger struct{ kv jetstream.KeyValue }

// OpenKVLedger opens (or creates) the bucket.
func OpenKVLedger(ctx context.Context, js jetstream.JetStream, replicas int) (*KVLedger, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LedgerBucket,
		Description: "driftless: the drift fingerprint last proposed as a pull request or issue, per app",
		History:     1,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("driftpr: open KV bucket %s: %w", LedgerBucket, err)
	}
	return &KVLedger{kv: kv}, nil
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ledgerKey is "REPO.APP", or hex when a name has other characters.
func ledgerKey(repo, app string) string {
	if plainKey.MatchString(repo) && plainKey.MatchString(app) {
		return repo + "." + app
	}
	return "x" + hex.EncodeToString([]byte(repo+"/"+app))
}

// Proposed implements Ledger.
func (l *KVLedger) Proposed(ctx context.Context, repo, app string) (string, error) {
	e, err := l.kv.Get(ctx, ledgerKey(repo, app))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// Record implements Ledger.
func (l *KVLedger) Record(ctx context.Context, repo, app, key string) error {
	_, err := l.kv.PutString(ctx, ledgerKey(repo, app), key)
	return err
}
