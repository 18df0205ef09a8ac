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
// "." and escapes everything else.
package kv
