// Package kv is a small typed layer over a JetStream key-value bucket: JSON
// values, revision-checked writes, read–modify–write with optimistic retry,
// and leases (keys with a per-key TTL) for "who polls this repo" and "who
// applies this app".
//
// Errors are classified by sentinel: ErrNotFound (missing or deleted),
// ErrConflict (revision mismatch on Update), ErrExists (Create of a present
// key), ErrHeld (a lease held by another holder; the *HeldError names it) and
// ErrLost (a lease expired or taken before Renew or Release).
//
// Keys allow [-/_=.a-zA-Z0-9]; build them with Key, which joins parts with
// "." and escapes everything else, or join tokens made by EscapeKeyPart
// (which escapes '/' too).
//
// GetJSON and PutJSON read and write JSON values of a plain
// jetstream.KeyValue (the event consumers' record buckets), telling the
// bucket's failures (worth retrying) from a *CodecError (a value that does
// not encode or decode).
package kv
