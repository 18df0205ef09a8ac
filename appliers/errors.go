package appliers

import (
	"errors"
	"time"
)

// StalledError marks a failure that retrying cannot fix: the desired state
// itself is wrong (a bad variable, a missing cluster). The reconciler waits
// for a new revision before trying again.
type StalledError struct{ Err error }

func (e *StalledError) Error() string { return e.Err.Error() }
func (e *StalledError) Unwrap() error { return e.Err }

// Stalled wraps err as a StalledError (nil stays nil).
func Stalled(err error) error {
	if err == nil {
		return nil
	}
	return &StalledError{Err: err}
}

// TransientError marks a failure worth retrying with backoff (throttling,
// a state lock held by someone else, a network error). After, when set, is
// the earliest sensible retry.
type TransientError struct {
	Err   error
	After time.Duration
}

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a TransientError (nil stays nil).
func Transient(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err, After: after}
}

// IsStalled reports whether err is, or wraps, a StalledError.
func IsStalled(err error) bool {
	var s *StalledError
	return errors.As(err, &s)
}

// IsTransient reports whether err is, or wraps, a TransientError, and its retry hint.
func IsTransient(err error) (bool, time.Duration) {
	var t *TransientError
	if errors.As(err, &t) {
		return true, t.After
	}
	return false, 0
}
