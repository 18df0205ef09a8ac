// Package state is what driftless knows of each app: its state record
// (status, desired, applied and pinned revisions, the last plan and
// deploy, the deploy in flight, open drift), its deploy history, the
// reasons a deploy happens, and the Store that keeps them — in memory for
// tests and one-shot commands, in JetStream KV for the daemon.
//
// The reconciler decides and writes; the HTTP API and the CLI read the
// same types and test the same sentinel errors (ErrNotFound, ErrConflict,
// ErrBadRequest) with errors.Is.
package state
