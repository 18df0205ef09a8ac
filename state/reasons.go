package state

// Reasons a deploy or rollback happens, as events and history carry them.
const (
	ReasonCommit    = "commit"    // a new commit changed the app's inputs
	ReasonManual    = "manual"    // driftless reconcile, resume or unpin
	ReasonRetry     = "retry"     // a failed deploy retried after its backoff
	ReasonDrift     = "drift"     // self-heal re-applied after drift
	ReasonApproved  = "approved"  // a person approved the pending plan
	ReasonRollback  = "rollback"  // a pin to an earlier revision (driftless rollback)
	ReasonRevert    = "revert"    // a revert commit ("This reverts commit X.")
	ReasonAutomatic = "automatic" // an applier rolled back a failed rollout by itself
	ReasonRecovered = "recovered" // the source is reachable again (source.updated)
)

// IsRollback reports whether a deploy for reason is announced as a rollback.
func IsRollback(reason string) bool { return reason == ReasonRollback || reason == ReasonRevert }
