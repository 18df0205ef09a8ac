package forge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// AuthError is returned (wrapped) when the forge refused the token (HTTP
// 401) or its permissions (403 that is not a rate limit). Retrying helps
// only once someone fixed the token.
type AuthError struct {
	Status  int    // 401 or 403
	Message string // the forge's message, never the token
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("the forge refused the token (HTTP %d): %s", e.Status, e.Message)
}

// RateLimitError is returned (wrapped) when the forge's primary or
// secondary rate limit was hit. Wait is how long the forge asked to wait
// (0 when it did not say).
type RateLimitError struct {
	Secondary bool
	Wait      time.Duration
	Message   string
}

func (e *RateLimitError) Error() string {
	kind := "rate limit"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	if e.Wait > 0 {
		return fmt.Sprintf("forge %s exceeded (retry in %s): %s", kind, e.Wait.Round(time.Second), e.Message)
	}
	return fmt.Sprintf("forge %s exceeded: %s", kind, e.Message)
}

// ServerError is an HTTP 5xx answer: the forge may do better later.
type ServerError struct {
	Status  int
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("the forge failed (HTTP %d): %s", e.Status, e.Message)
}

// ConflictError is returned (wrapped) when the forge refused a change
// because of the repository's state (HTTP 409, e.g. a deployment's merge
// conflict). Retrying the same request does not help.
type ConflictError struct {
	Message string
}

func (e *ConflictError) Error() string { return "conflict on the forge: " + e.Message }

// Retryable reports whether err may go away by itself (rate limit, 5xx,
// network failure, timeout of one call) and how long the forge asked to
// wait (0: the caller's backoff). A cancelled ctx is not retryable.
func Retryable(err error) (time.Duration, bool) {
	if err == nil || errors.Is(err, context.Canceled) {
		return 0, false
	}
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.Wait, true
	}
	var se *ServerError
	if errors.As(err, &se) {
		return 0, true
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return 0, true
	}
	return 0, false
}
