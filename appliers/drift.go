package appliers

import (
	"context"
	"slices"
	"strings"
)

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

// IgnoredPath reports whether the attribute path (dot-separated, e.g.
// "configuration.environment.LOG_LEVEL") matches one of the ignore
// patterns. A pattern matches its own path and everything below it, and may
// leave out leading segments: "configuration.environment",
// "environment" and "environment.LOG_LEVEL" all match
// "configuration.environment.LOG_LEVEL"; "image" matches
// "task_definition.containers.web.image". A "*" segment matches any one
// segment ("task_definition.containers.*.image"). Empty patterns match
// nothing.
func IgnoredPath(path string, ignore []string) bool {
	segs := strings.Split(path, ".")
	for _, pat := range ignore {
		if pat == "" {
			continue
		}
		ps := strings.Split(pat, ".")
		for start := 0; start+len(ps) <= len(segs); start++ {
			if segmentsMatch(ps, segs[start:start+len(ps)]) {
				return true
			}
		}
	}
	return false
}

func segmentsMatch(pattern, segs []string) bool {
	for i, p := range pattern {
		if p != "*" && p != segs[i] {
			return false
		}
	}
	return true
}

// FilterDrift returns items without their ignored attributes (see
// IgnoredPath), dropping the items whose attributes were all ignored (an
// item that listed no attribute, such as a deleted resource to create, is
// kept). The result is in a canonical order — items by address,
// attributes sorted and deduplicated — so the same drift always marshals
// to the same bytes. items is not modified.
func FilterDrift(items []DriftItem, ignore []string) []DriftItem {
	out := make([]DriftItem, 0, len(items))
	for _, it := range items {
		var attrs []string
		for _, a := range it.Attributes {
			if !IgnoredPath(a, ignore) {
				attrs = append(attrs, a)
			}
		}
		if len(it.Attributes) > 0 && len(attrs) == 0 {
			continue
		}
		slices.Sort(attrs)
		it.Attributes = slices.Compact(attrs)
		out = append(out, it)
	}
	slices.SortStableFunc(out, func(a, b DriftItem) int { return strings.Compare(a.Address, b.Address) })
	return out
}
