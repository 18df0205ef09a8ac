package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/kv"
	"github.com/driftless/driftless/internal/testenv"
)

// GetJSON and PutJSON round-trip a value, tell a missing key from a
// failure, and type the values that do not decode (or encode) apart from
// the bucket's errors.
func TestGetPutJSON(t *testing.T) {
	_, js := testenv.NATS(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "JSON_TEST"})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		TS string `json:"ts"`
	}
	var got rec
	if ok, err := kv.GetJSON(ctx, b, "missing", &got); ok || err != nil {
		t.Errorf("missing key: %v, %v", ok, err)
	}
	if err := kv.PutJSON(ctx, b, "event.a", rec{TS: "1.2"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := kv.GetJSON(ctx, b, "event.a", &got); !ok || err != nil || got.TS != "1.2" {
		t.Errorf("get: %v, %v, %+v", ok, err, got)
	}
	if _, err := b.Put(ctx, "event.bad", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	var ce *kv.CodecError
	if _, err := kv.GetJSON(ctx, b, "event.bad", &got); !errors.As(err, &ce) || ce.Op != "decode" || ce.Key != "event.bad" {
		t.Errorf("a value that does not decode: %v", err)
	}
	if err := kv.PutJSON(ctx, b, "event.c", func() {}); !errors.As(err, &ce) || ce.Op != "encode" {
		t.Errorf("a value that does not encode: %v", err)
	}
	if err := kv.PutJSON(ctx, b, "bad key!", rec{}); err == nil || errors.As(err, &ce) {
		t.Errorf("a refused key: %v, want the bucket's error", err)
	}
}
