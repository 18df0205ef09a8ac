package appliers

import (
	"context"

	"github.com/zclconf/go-cty/cty"
)

// LiveReader is implemented by appliers that can read the live values of
// drifted attributes and name the manifest attribute each one is set by,
// so that a drift can be proposed back as a change to the manifest
// (driftless drift --pr).
type LiveReader interface {
	// Live reads, for each drift attribute path of paths (as a DriftItem
	// of this applier lists them for req.App), the value running now and
	// the manifest attribute that would have to hold it. Paths that no
	// manifest attribute of the block sets directly (a field of a task
	// definition read from a file, code, an alias), and paths whose values
	// are secret (ECS secrets), are left out: they are changed by hand.
	// Secret or sensitive values are never returned. Live only reads.
	Live(ctx context.Context, req Request, paths []string) ([]LiveValue, error)
}

// LiveValue is the live value of one drifted attribute.
type LiveValue struct {
	// Path is the drift attribute path, e.g. "task_definition.containers.web.image".
	Path string `json:"path"`
	// Attribute is the manifest attribute that sets it, as a dot path into
	// the app's block: "desired_count", "images.web", "environment.LOG_LEVEL".
	Attribute string `json:"attribute"`
	// Value is what runs now; a null value means the live side has no
	// such entry (an environment variable removed by hand).
	Value cty.Value `json:"-"`
}
