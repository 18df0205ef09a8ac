package preview

import (
	"github.com/driftless/driftless/appliers"
)

// Result is one preview: what the pull request's head would deploy.
type Result struct {
	Repo   string `json:"repo"`
	PR     int    `json:"pr,omitempty"`
	Ref    string `json:"ref"`
	Branch string `json:"branch"` // the tracked branch
	Base   string `json:"base"`   // its head
	// MergeBase is where the pull request left the branch, when the
	// branch moved on since: changes are counted from there.
	MergeBase string `json:"merge_base,omitempty"`
	Revision  string `json:"revision"` // the head previewed
	// Apps are the apps a deploy of the head would plan, in DAG order.
	Apps []AppResult `json:"apps"`
	// Unchanged are the other apps, in DAG order.
	Unchanged []string `json:"unchanged"`
	// Removed are the apps the pull request stops declaring: a deploy
	// leaves their resources in place and stops managing them.
	Removed []string `json:"removed,omitempty"`
	// Diagnostics say why the manifests at the head are invalid
	// (file:line:col: message).
	Diagnostics []string `json:"diagnostics,omitempty"`
	// Refused says why the pull request was not planned (a fork).
	Refused string `json:"refused,omitempty"`
	// Error is why the preview failed, when it did.
	Error string `json:"error,omitempty"`
}

// AppResult is one app's preview.
type AppResult struct {
	App     string            `json:"app"`
	Kind    string            `json:"kind"`
	Changed bool              `json:"changed"` // the plan has changes
	Summary string            `json:"summary"`
	Changes []appliers.Change `json:"changes"`
	// Text is the applier's own text of the plan (Terraform's), redacted.
	Text string `json:"text,omitempty"`
	// After names the apps changed in the same pull request whose outputs
	// this app references: it is planned after they are applied.
	After []string `json:"after,omitempty"`
	// Unknown names the inputs known only after those are applied.
	Unknown []string `json:"unknown,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Failed reports whether the preview failed (invalid manifests, an error,
// or an app that could not be planned).
func (r *Result) Failed() bool {
	if r.Error != "" || len(r.Diagnostics) > 0 {
		return true
	}
	for _, a := range r.Apps {
		if a.Error != "" {
			return true
		}
	}
	return false
}

// Changed reports whether any app would change.
func (r *Result) Changed() bool {
	for _, a := range r.Apps {
		if a.Changed {
			return true
		}
	}
	return false
}

// ChangedApps names the apps whose plan has changes.
func (r *Result) ChangedApps() []string {
	out := []string{}
	for _, a := range r.Apps {
		if a.Changed {
			out = append(out, a.App)
		}
	}
	return out
}
