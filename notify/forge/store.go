package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	e, err := st.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, &errTransientKV{fmt.Errorf("get %s: %w", key, err)}
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

func (st *store) put(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if _, err := st.kv.Put(ctx, key, b); err != nil {
		return &errTransientKV{fmt.Errorf("put %s: %w", key, err)}
	}
	return nil
}

func deployKey(id string) string { return "deploy." + kv.EscapeKeyPart(id) }
func eventKey(id string) string  { return "event." + kv.EscapeKeyPart(id) }
