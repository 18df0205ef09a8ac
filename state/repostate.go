package state

import "slices"

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
	// Last is the newest reconcile pass that ran every app (see Current).
	Last Reconciled `json:"last,omitzero"`
}

// Reconciled records, with one write per commit for the whole repository,
// that the apps a commit did not touch are synced at it: the controller
// writes an app's state only when something of the app changes, never
// just to move its revisions to the new head.
type Reconciled struct {
	// Revision is the head of the newest reconcile pass that ran every
	// app to its end.
	Revision string `json:"revision,omitempty"`
	// Unsettled lists the apps that pass did not leave synced (blocked,
	// failed, waiting): their stored state is what they are.
	Unsettled []string `json:"unsettled,omitempty"`
	// Since lists the revisions loaded after Revision, newest last: an app
	// written at one of them is newer than the pass.
	Since []string `json:"since,omitempty"`
}

// maxSince bounds Reconciled.Since: past it (passes that never completed,
// one after another), nothing is inferred until a pass completes.
const maxSince = 32

// Loaded notes that rev was loaded and is about to be reconciled.
func (r *Reconciled) Loaded(rev string) {
	if r.Revision == "" || rev == r.Revision || slices.Contains(r.Since, rev) {
		return
	}
	if len(r.Since) >= maxSince {
		*r = Reconciled{}
		return
	}
	r.Since = append(r.Since, rev)
}

// Current is st as it stands given what is remembered of its repository:
// an app last written synced (or drifted) at an older revision, which the
// newest complete reconcile pass left settled, is synced at that pass's
// revision — nothing it depends on changed since. Anything else is st
// unchanged.
func (rs RepoState) Current(st AppState) AppState {
	r := rs.Last
	if r.Revision == "" || st.DesiredRevision == r.Revision || slices.Contains(r.Since, st.DesiredRevision) ||
		st.AppliedRevision == "" || st.DesiredRevision != st.AppliedRevision ||
		st.Status != StatusSynced && st.Status != StatusDrifted ||
		st.InFlight != nil || st.LastError != "" || st.Suspended || st.PinnedRevision != "" {
		return st
	}
	if slices.Contains(r.Unsettled, st.App) {
		return st
	}
	st.DesiredRevision, st.AppliedRevision = r.Revision, r.Revision
	return st
}
