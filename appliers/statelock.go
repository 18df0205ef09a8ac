package appliers

import (
	"context"
	"errors"
	"time"
)

// StateLock describes a lock on an app's state (a Terraform state lock),
// as its backend reports it.
type StateLock struct {
	ID        string    `json:"id"`
	Who       string    `json:"who"` // user@host of the process that took it
	Operation string    `json:"operation"`
	Created   time.Time `json:"created"`
}

// LockReporter is implemented by the errors Plan or Apply return (wrapped,
// and Transient) when the app's state is locked by someone else, e.g. the
// Terraform applier's LockHeldError.
type LockReporter interface{ StateLock() StateLock }

// HeldLock returns the state lock that err, or an error it wraps, reports.
func HeldLock(err error) (StateLock, bool) {
	var lr LockReporter
	if errors.As(err, &lr) {
		return lr.StateLock(), true
	}
	return StateLock{}, false
}

// LockBreaker is implemented by appliers that can release a lock on an
// app's state that its holder left behind (terraform force-unlock). The
// reconciler calls it only for a lock a driftless process of its own took
// and that process is gone; never for anyone else's.
type LockBreaker interface {
	ForceUnlock(ctx context.Context, req Request, lockID string) error
}
