// Package manifest loads the desired state of one revision of a watched
// repository: every *.hcl file under the repo's manifest path, decoded with
// hashicorp/hcl/v2.
//
// The loader reads top-level blocks and hands each body to the applier that
// owns its type, so a new target is a new applier, not a change here. It
// handles what every block shares — the app name, depends_on, the drift
// settings — and the references between blocks (stack.NAME.outputs.KEY),
// which become dependency edges. A revision with any error is rejected
// whole, with every diagnostic as "file:line:col: message".
package manifest
