package appliers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// ErrForeignPlan is wrapped, as a StalledError, by the error of an Apply
// given no plan or a plan whose artifact another applier made: the plan
// cannot be carried out by this applier, and a retry of the same apply
// would fail the same way.
var ErrForeignPlan = errors.New("plan was not made by this applier")

// ErrStalePlan is wrapped, as a StalledError, by the error of an Apply whose
// plan lost its artifact (an approval after a restart) and whose plan made
// again differs: what was approved can no longer be applied. A new plan,
// not a retry of this apply, is needed.
var ErrStalePlan = errors.New("the plan is stale")

// PlanArtifact returns plan's artifact as A for kind's Apply. A nil plan,
// or an artifact of another type, is a Stalled error wrapping
// ErrForeignPlan. A plan without an artifact (lost, e.g. after a restart)
// gives the zero A, false and no error: the applier may plan again and go
// on only when the new plan has the same ID (else StalePlan).
func PlanArtifact[A any](kind, app string, plan *Plan) (A, bool, error) {
	var zero A
	if plan == nil {
		return zero, false, Stalled(fmt.Errorf("%s %s: %w: no plan given", kind, app, ErrForeignPlan))
	}
	if plan.Artifact == nil {
		return zero, false, nil
	}
	art, ok := plan.Artifact.(A)
	if !ok {
		return zero, false, Stalled(fmt.Errorf("%s %s: %w (artifact %T)", kind, app, ErrForeignPlan, plan.Artifact))
	}
	return art, true, nil
}

// StalePlan is the Stalled error wrapping ErrStalePlan for an approved
// plan that can no longer be applied; detail says what differs.
func StalePlan(kind, app, detail string) error {
	return Stalled(fmt.Errorf("%s %s: %w: %s", kind, app, ErrStalePlan, detail))
}

// ThrottlingCodes are the AWS error codes of throttling and of a service
// unavailable for a moment, common to every AWS API.
var ThrottlingCodes = []string{
	"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
	"RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown",
	"ServiceUnavailable", "ServiceUnavailableException", "InternalFailure",
}

// AWSClassifier classifies the errors of AWS API calls: ThrottlingCodes,
// Transient codes and network errors become TransientError (retry hint
// After), Stalled codes StalledError; anything else is returned as is (the
// reconciler retries it with backoff). An error already classified is
// returned unchanged. Error codes are read through the ErrorCode method
// that smithy.APIError has, so appliers need not agree on a client.
type AWSClassifier struct {
	Transient []string
	Stalled   []string
	After     time.Duration
}

// Classify classifies err (nil stays nil).
func (c AWSClassifier) Classify(err error) error {
	if err == nil || IsStalled(err) {
		return err
	}
	if ok, _ := IsTransient(err); ok {
		return err
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		code := coded.ErrorCode()
		switch {
		case slices.Contains(ThrottlingCodes, code) || slices.Contains(c.Transient, code):
			return Transient(err, c.After)
		case slices.Contains(c.Stalled, code):
			return Stalled(err)
		}
	}
	if IsNetworkError(err) {
		return Transient(err, c.After)
	}
	return err
}

// IsNetworkError reports whether err is, or wraps, a failure to reach a
// server: a refused or reset connection, a failed DNS look-up, a timeout
// in transit. A cancelled context is not one.
func IsNetworkError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}
