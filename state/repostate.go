package state

// RepoState is what driftless remembers of a repository across restarts:
// the revision whose manifests were being evaluated (so that a revision
// that crashes the controller while it is evaluated is rejected on the
// next start instead of crashing it again), and the newest revision
// rejected.
type RepoState struct {
	Repo string `json:"repo"`
	// Evaluating is the revision whose manifests are being evaluated, and
	// Attempts how many times its evaluation was started without ending.
	Evaluating string `json:"evaluating,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	// Rejected is the newest revision rejected, and Why the reason.
	Rejected string `json:"rejected,omitempty"`
	Why      string `json:"why,omitempty"`
	// Good is the newest revision whose manifests were valid: after a
	// restart on a rejected head, the last good state is this one's.
	Good string `json:"good,omitempty"`
}
