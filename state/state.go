package state

import (
	"time"

	"github.com/driftless/driftless/appliers"
)

// Statuses an app can be in (the README's CLI reference).
const (
	StatusSynced           = "synced"
	StatusOutOfSync        = "out-of-sync"
	StatusProgressing      = "progressing"
	StatusFailed           = "failed"
	StatusDrifted          = "drifted"
	StatusPinned           = "pinned"
	StatusSuspended        = "suspended"
	StatusAwaitingApproval = "awaiting-approval"
)

// AppState is what driftless knows of one app. It is persisted in the
// DRIFTLESS_STATE KV bucket and is the app object of the HTTP API.
type AppState struct {
	Repo            string `json:"repo"`
	App             string `json:"app"`
	Kind            string `json:"kind"`
	Status          string `json:"status"`
	DesiredRevision string `json:"desired_revision"`
	AppliedRevision string `json:"applied_revision"`
	PinnedRevision  string `json:"pinned_revision"`
	// PinnedFrom is the branch head when the app was pinned: the commits
	// after the pinned revision up to it are quarantined for this app, which
	// follows the branch again when a newer commit lands.
	PinnedFrom string    `json:"pinned_from,omitempty"`
	PinnedBy   string    `json:"pinned_by,omitempty"`
	PinnedAt   time.Time `json:"pinned_at,omitempty"`
	Suspended  bool      `json:"suspended"`
	LastError  string    `json:"last_error"`
	UpdatedAt  time.Time `json:"updated_at"`

	// SpecHash is the hash of the spec last applied (manifest block with
	// resolved references); a different hash means the app must be planned.
	SpecHash string `json:"spec_hash,omitempty"`
	// LastPlan is the newest plan made for the app.
	LastPlan *PlanRecord `json:"last_plan,omitempty"`
	// LastDeploy describes the newest deploy attempt.
	LastDeploy *DeployRecord `json:"last_deploy,omitempty"`
	// FailedRevision and FailedSpecHash are the inputs of the last failed
	// attempt; Attempts counts consecutive failures for backoff.
	FailedRevision string    `json:"failed_revision,omitempty"`
	FailedSpecHash string    `json:"failed_spec_hash,omitempty"`
	Attempts       int       `json:"attempts,omitempty"`
	RetryAt        time.Time `json:"retry_at,omitempty"`
	// InFlight is set while a deploy runs; found set at start-up, it marks
	// a deploy interrupted by a crash.
	InFlight *DeployRecord `json:"in_flight,omitempty"`
	// Drift is the open drift: live state no longer matches the applied
	// desired state. Nil when none was found by the last scan.
	Drift *DriftInfo `json:"drift,omitempty"`
	// Forced is a requested action (manual, approved, rollback, drift)
	// that the replica reconciling the repo carries out at its next sync;
	// ForcedBy is who asked. Kept here so any replica can accept it.
	Forced   string `json:"forced,omitempty"`
	ForcedBy string `json:"forced_by,omitempty"`
	// ApprovedPlan is the id of the plan a person approved (with Forced
	// "approved"): only a plan with this id is applied for that approval.
	ApprovedPlan string `json:"approved_plan,omitempty"`
	// DriftScannedAt is when drift was last checked.
	DriftScannedAt time.Time `json:"drift_scanned_at,omitempty"`

	// Rev is the store revision this state was read at (0: never stored).
	// Put writes only while the stored revision is still Rev.
	Rev uint64 `json:"-"`
}

// DriftInfo describes an open drift.
type DriftInfo struct {
	Fingerprint string               `json:"fingerprint"`
	Items       []appliers.DriftItem `json:"items"`
	FirstSeen   time.Time            `json:"first_seen"`
}

// PlanRecord is a plan as people and the API see it.
type PlanRecord struct {
	Revision string            `json:"revision"`
	ID       string            `json:"id"`
	Changed  bool              `json:"changed"`
	Summary  string            `json:"summary"`
	Changes  []appliers.Change `json:"changes,omitempty"`
	At       time.Time         `json:"at"`
}

// DeployRecord is one deploy attempt.
type DeployRecord struct {
	ID         string            `json:"id"`
	Revision   string            `json:"revision"`
	Author     string            `json:"author,omitempty"`
	PR         int               `json:"pr,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Caller     string            `json:"caller,omitempty"` // who asked, for manual actions
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at,omitempty"`
	Outcome    string            `json:"outcome,omitempty"` // succeeded, failed, interrupted
	Changes    []appliers.Change `json:"changes,omitempty"`
	Error      string            `json:"error,omitempty"`
	Replica    string            `json:"replica,omitempty"`
	// Holder is the unique identity of the process that ran the deploy
	// (its lease holder id); Replica is its display name.
	Holder string `json:"holder,omitempty"`
	// Who is the user@host of that process, as Terraform names the holder
	// of a state lock: it tells driftless's own orphaned locks from others'.
	Who string `json:"who,omitempty"`
}
