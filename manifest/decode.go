package manifest

import (
	"fmt"
	"io/fs"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// Decode decodes app again with the outputs of the apps it references
// known: outputs maps app name → output name → value (see OutputValues).
// An output that is missing is an error at the referencing expression.
// Evaluation is bounded by l.Limits (counted afresh); a panic while
// decoding is an error too.
func (l *Loader) Decode(repo string, tree fs.FS, d *Desired, app *App, outputs map[string]map[string]cty.Value) (spec appliers.Spec, diags hcl.Diagnostics) {
	if len(app.Refs) == 0 && app.Spec != nil {
		return app.Spec, nil
	}
	defer recoverDiag(&diags, fmt.Sprintf("%s %q", app.Kind, app.Name), app.DefRange.Ptr())
	b := newBudget(l.Limits)
	ectx := l.evalContext(tree, d, outputs, b)
	if sb, ok := app.body.(*hclsyntax.Body); ok {
		// Now that the outputs are known, count the for expressions over
		// them too.
		if diags = checkFors(sb, ectx, b); diags.HasErrors() {
			sortDiagnostics(diags)
			return nil, diags
		}
	}
	spec, diags = l.decode(appliers.DecodeContext{Repo: repo, App: app.Name, Tree: tree, Eval: ectx, Block: app.DefRange}, app)
	stableSuggestions(diags)
	sortDiagnostics(diags)
	diags = capDiagnostics(diags)
	return spec, diags
}

// decode hands app's body to its applier, turning a panic into an error
// at the block.
func (l *Loader) decode(dc appliers.DecodeContext, app *App) (spec appliers.Spec, diags hcl.Diagnostics) {
	defer recoverDiag(&diags, fmt.Sprintf("%s %q", app.Kind, app.Name), app.DefRange.Ptr())
	return l.kinds[app.Kind].Decode(dc, app.body)
}

// recoverDiag, deferred, turns a panic into an error diagnostic about
// what, at subject (if any), appended to *diags.
func recoverDiag(diags *hcl.Diagnostics, what string, subject *hcl.Range) {
	if r := recover(); r != nil {
		*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Internal error",
			Detail: fmt.Sprintf("Internal error evaluating %s: %v.", what, r), Subject: subject})
	}
}
