package appliers

import "context"

// PreviewRequest is a plan made for a preview (a pull request, `driftless
// plan --ref`): never applied, in a work directory of its own.
type PreviewRequest struct {
	Request
	// WorkDir is a directory that belongs to this preview alone (the
	// caller creates the parent and removes it afterwards). A Previewer
	// never touches the work directory its deploys use.
	WorkDir string
}

// PreviewPlan is a preview's plan: the Plan (whose Artifact is nil: it is
// never applied) and the applier's own text of it, redacted.
type PreviewPlan struct {
	Plan
	Text string `json:"text,omitempty"`
}

// Previewer is implemented by appliers whose Plan takes locks or writes
// what a later deploy would use (Terraform: the stack's work directory, the
// state lock). Their previews take no lock and write only under WorkDir.
// Appliers that are not Previewers are previewed with Plan, which must then
// be read-only (ECS and Lambda plans are).
type Previewer interface {
	PreviewPlan(ctx context.Context, req PreviewRequest) (*PreviewPlan, error)
	// PreviewOutputs reads the outputs of the app's last apply the same
	// way: no lock, nothing written outside WorkDir.
	PreviewOutputs(ctx context.Context, req PreviewRequest) (map[string]Output, error)
}

// UnknownReporter is implemented by specs that can hold inputs not known
// yet (references to outputs of apps that a preview sees changed, or that
// were never applied): their names, e.g. "vars.subnet_id".
type UnknownReporter interface {
	UnknownInputs() []string
}
