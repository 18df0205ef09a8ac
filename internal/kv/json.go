package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// CodecError is a value that does not encode to or decode from JSON:
// retrying does not help, unlike the bucket's own errors.
type CodecError struct {
	Op  string // "encode" or "decode"
	Key string
	Err error
}

func (e *CodecError) Error() string { return e.Op + " " + e.Key + ": " + e.Err.Error() }
func (e *CodecError) Unwrap() error { return e.Err }

// GetJSON decodes the value at key of a plain JetStream bucket into v; ok
// is false when the key is missing or deleted. A failure of the bucket is
// returned as "get KEY: ...", a value that does not decode as a
// *CodecError.
func GetJSON(ctx context.Context, b jetstream.KeyValue, key string, v any) (ok bool, err error) {
	e, err := b.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, &CodecError{Op: "decode", Key: key, Err: err}
	}
	return true, nil
}

// PutJSON stores v as JSON at key of a plain JetStream bucket, whatever is
// there. A failure of the bucket is returned as "put KEY: ...", a value
// that does not encode as a *CodecError.
func PutJSON(ctx context.Context, b jetstream.KeyValue, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return &CodecError{Op: "encode", Key: key, Err: err}
	}
	if _, err := b.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}
