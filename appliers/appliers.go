package appliers

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"

	"github.com/hashicorp/hcl/v2"
)

// Applier is one deployment target, owning one manifest block type.
type Applier interface {
	// Kind is the manifest block type this applier owns, e.g. "stack".
	Kind() string

	// Decode decodes and validates one block body. ectx carries the manifest
	// functions (file, jsondecode, the cty stdlib) and variables for
	// references to other apps (stack.NAME.outputs.KEY); at validation time
	// those outputs may be unknown values. Decode must not touch the network.
	// Paths in the block are repo-relative; dc.Tree reads the repository at
	// the revision being decoded and refuses paths that escape it.
	Decode(dc DecodeContext, body hcl.Body) (Spec, hcl.Diagnostics)

	// Plan computes what Apply would change, without changing anything.
	Plan(ctx context.Context, req Request) (*Plan, error)

	// Apply carries out exactly the given plan (made by Plan for the same
	// request), waits until the target is healthy, and reports the result.
	Apply(ctx context.Context, req Request, plan *Plan) (*Result, error)
}

// Outputter is implemented by appliers whose apps produce outputs that other
// apps can reference (Terraform stacks). Outputs reads the outputs of the
// app's last apply, for instance after a controller restart.
type Outputter interface {
	Outputs(ctx context.Context, req Request) (map[string]Output, error)
}

// ApprovalRequirer is implemented by specs that can require a person's
// approval before their plan is applied (stack auto_apply = false). The
// reconciler then stops at plan.awaiting_approval until the plan is
// approved; manual rollbacks skip the gate.
type ApprovalRequirer interface {
	ApprovalRequired() bool
}

// Spec is an app's decoded desired state. It must marshal to JSON
// deterministically: the reconciler hashes that JSON to notice when a
// manifest block (or an output it references) changed.
type Spec interface {
	// Inputs lists the repo-relative, slash-separated paths (files or
	// directories) whose change means the app must be planned again.
	Inputs() []string
}

// DecodeContext is what Decode sees besides the block body.
type DecodeContext struct {
	Repo  string           // repo name from the controller config
	App   string           // the block label
	Tree  fs.FS            // repository at the revision, rooted at the repo root
	Eval  *hcl.EvalContext // functions and reference variables
	Block hcl.Range        // the block's definition range, for diagnostics
}

// Request identifies one plan or apply of one app at one revision.
type Request struct {
	Repo     string
	App      string
	Revision string // commit SHA the spec was read from
	Spec     Spec
	Tree     fs.FS // repository at Revision
	DeployID string
	Log      *slog.Logger
	Observer Observer // never nil when passed by the reconciler
}

// Observer receives progress from an Apply in flight.
type Observer interface {
	// Step reports one step of an apply, e.g. "registered task definition web:7".
	Step(msg string)
	// RollbackStarted reports that the applier began rolling itself back.
	RollbackStarted(reason string)
	// RollbackDone reports the end of that rollback (err nil: it succeeded).
	RollbackDone(err error)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) Step(string)            {}
func (NopObserver) RollbackStarted(string) {}
func (NopObserver) RollbackDone(error)     {}

// Change is one resource the plan would touch.
type Change struct {
	Address string `json:"address"`
	Action  string `json:"action"` // create, update, delete, replace, read
}

// Plan is the outcome of Plan: whether anything would change, a summary for
// people, and the artifact that Apply carries out (a saved Terraform plan
// file, an ECS task definition diff).
type Plan struct {
	Changed bool     `json:"changed"`
	Summary string   `json:"summary"`
	Changes []Change `json:"changes,omitempty"`
	// ID is a content hash of everything that shaped the plan, so that an
	// approval approves exactly this plan.
	ID string `json:"id"`
	// Artifact is applier-private; the reconciler hands it back to Apply.
	Artifact any `json:"-"`
}

// Result is the outcome of a successful Apply.
type Result struct {
	Changes []Change          `json:"changes,omitempty"`
	Outputs map[string]Output `json:"-"`
}

// Output is one named output of an app, as `terraform output -json` gives it.
type Output struct {
	Value     json.RawMessage `json:"value"`
	Type      json.RawMessage `json:"type"`
	Sensitive bool            `json:"sensitive"`
}
