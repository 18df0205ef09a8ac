package appliers

import "context"

// DriftDetector is implemented by appliers that can tell whether live state
// still matches an app's desired state without changing anything.
type DriftDetector interface {
	// Drift compares live state with req.Spec (the desired state that was
	// last applied, at req.Revision) and lists what differs. An empty
	// report means no drift. Implementations normalise exactly as their
	// planner does, never report what their planner would not change (an
	// autoscaled desired count, AWS-filled defaults), never include secret
	// or sensitive values, and leave out attributes whose path matches one
	// of ignore (e.g. "desired_count", "environment.LOG_LEVEL",
	// "aws_ssm_parameter.x.value"; a pattern matches its own path and
	// everything below it).
	Drift(ctx context.Context, req Request, ignore []string) (*DriftReport, error)
}

// DriftReport is what a drift check found.
type DriftReport struct {
	Items []DriftItem `json:"items"`
}

// DriftItem is one drifted resource and the attribute paths that moved.
type DriftItem struct {
	Address    string   `json:"address"`              // e.g. aws_ssm_parameter.p, ecs_service.web
	Attributes []string `json:"attributes,omitempty"` // e.g. value, task_definition.image, desired_count
	// Action is what re-applying the desired state would do: update,
	// create (deleted outside), delete, replace.
	Action string `json:"action,omitempty"`
}

// Drifted reports whether the report lists anything.
func (r *DriftReport) Drifted() bool { return r != nil && len(r.Items) > 0 }
