package reconciler

import (
	"encoding/json"

	"github.com/driftless/driftless/appliers"
)

// SpecHash identifies a decoded spec as the deploy's "skip unchanged" step
// does: a different hash means the manifest block, or an output it
// references, changed. Previews use it to tell which apps a pull request
// changes exactly as a deploy would.
func SpecHash(kind string, spec appliers.Spec) string { return specHash(kind, spec) }

// InputsTouched reports whether any of paths (changed between two
// revisions, see sources.Repo.ChangedPaths) lies at or under one of spec's
// inputs: the deploy's rule for planning an app again.
func InputsTouched(paths []string, spec appliers.Spec) bool {
	if spec == nil {
		return false
	}
	return touches(paths, spec.Inputs())
}

// SensitiveStrings lists the values (leaf strings and numbers) of the
// sensitive outputs in o: what the redactor must mask wherever they flow.
func SensitiveStrings(o map[string]appliers.Output) []string {
	var out []string
	for _, v := range o {
		if !v.Sensitive || len(v.Value) == 0 {
			continue
		}
		var x any
		if json.Unmarshal(v.Value, &x) == nil {
			out = append(out, leafStrings(x)...)
		}
	}
	return out
}
