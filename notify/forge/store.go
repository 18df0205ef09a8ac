package forge

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/kv"
)

// store keeps, in a KV bucket:
//
//	deploy.<deploy id>  → deployment: the forge deployment of a deploy
//	event.<event id>    → progress: what of the event was done
//
// The reporter handles one event at a time (MaxAckPending 1), so plain
// Puts are safe.
type store struct {
	kv jetstream.KeyValue
}

type deployment struct {
	ID   int64  `json:"id"`
	Repo string `json:"repo"` // owner/name on the forge
}

type progress struct {
	Status  bool `json:"status"`  // the deployment status was set
	Comment bool `json:"comment"` // the pull request comment line was written
}

// errTransientKV marks a KV failure: retried like a forge 5xx.
type errTransientKV struct{ err error }

func (e *errTransientKV) Error() string { return "KV: " + e.err.Error() }
func (e *errTransientKV) Unwrap() error { return e.err }

func (st *store) get(ctx context.Context, key string, v any) (bool, error) {
	ok, err := kv.GetJSON(ctx, st.kv, key, v)
	return ok, transient(err)
}

func (st *store) put(ctx context.Context, key string, v any) error {
	return transient(kv.PutJSON(ctx, st.kv, key, v))
}

// transient marks the bucket's failures; a value that does not encode or
// decode is not one.
func transient(err error) error {
	var ce *kv.CodecError
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return &errTransientKV{err}
}

func deployKey(id string) string { return "deploy." + kv.EscapeKeyPart(id) }
func eventKey(id string) string  { return "event." + kv.EscapeKeyPart(id) }
