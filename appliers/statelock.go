package appliers

import (
	"context"
	"errors"
	"fmt"
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

// LockHeldError is returned (wrapped, and Transient) by Plan or Apply when
// the app's state is locked by someone else.
type LockHeldError struct {
	Lock StateLock
	Err  error
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("state lock %s held by %s since %s (%s): %v", e.Lock.ID, e.Lock.Who,
		e.Lock.Created.UTC().Format(time.RFC3339), e.Lock.Operation, e.Err)
}

func (e *LockHeldError) Unwrap() error { return e.Err }

// StateLock reports the lock.
func (e *LockHeldError) StateLock() StateLock { return e.Lock }

// LockReporter is implemented by errors that report a state lock held by
// someone else (LockHeldError, or an applier's own richer type).
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
