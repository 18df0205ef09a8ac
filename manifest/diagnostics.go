package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/driftless/driftless/appliers"
)

// Format renders diagnostics one per line as "file:line:col: summary: detail"
// (without a position when a diagnostic has none), errors before warnings.
func Format(diags hcl.Diagnostics) []string {
	var errs, warns []string
	for _, d := range diags {
		var b strings.Builder
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		if d.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(strings.TrimSuffix(strings.Join(strings.Fields(d.Detail), " "), "."))
		}
		if d.Severity == hcl.DiagWarning {
			warns = append(warns, b.String())
		} else {
			errs = append(errs, b.String())
		}
	}
	return append(errs, warns...)
}

// sortDiagnostics orders diags by position (diagnostics without one first,
// in their original order), then severity, summary and detail.
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		if a.Subject == nil || b.Subject == nil {
			return cmp.Compare(boolInt(a.Subject != nil), boolInt(b.Subject != nil))
		}
		return cmp.Or(
			cmp.Compare(a.Subject.Filename, b.Subject.Filename),
			cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte),
			cmp.Compare(a.Subject.End.Byte, b.Subject.End.Byte),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Summary, b.Summary),
			cmp.Compare(a.Detail, b.Detail),
		)
	})
}

// maxDiagnostics is the most diagnostics a load reports: an expression
// failing in a for expression fails once per element, and a revision's
// diagnostics travel in its source.invalid event.
const maxDiagnostics = 100

// capDiagnostics keeps the first maxDiagnostics of diags, sorted, and
// says how many more there were.
func capDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(diags) <= maxDiagnostics {
		return diags
	}
	more := len(diags) - maxDiagnostics
	return append(diags[:maxDiagnostics:maxDiagnostics], &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many errors",
		Detail: fmt.Sprintf("%d more diagnostics are not shown.", more)})
}

// functionNames are the names of the manifest functions, sorted.
var functionNames = sortedKeys(Functions(nil))

// stableSuggestions rewrites the "Did you mean" hint of unknown-function
// diagnostics, which HCL picks in map order (for "jsoecode" it says
// jsondecode or jsonencode at random), to the closest function name, ties
// broken alphabetically: the same manifest always gives the same output.
func stableSuggestions(diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Summary != "Call to unknown function" {
			continue
		}
		x, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallUnknownDiagExtra](d)
		if !ok || x.CalledFunctionNamespace() != "" {
			continue
		}
		name := x.CalledFunctionName()
		d.Detail = fmt.Sprintf("There is no function named %q.", name)
		best, bestDist := "", 3 // HCL's threshold: suggest names less than 3 edits away
		for _, f := range functionNames {
			if dist := editDistance(name, f); dist < bestDist {
				best, bestDist = f, dist
			}
		}
		if best != "" {
			d.Detail += fmt.Sprintf(" Did you mean %q?", best)
		}
	}
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// OutputValues converts an app's outputs to cty values for Decode.
func OutputValues(outs map[string]appliers.Output) (map[string]cty.Value, error) {
	vals := make(map[string]cty.Value, len(outs))
	for name, o := range outs {
		ty := cty.DynamicPseudoType
		if len(o.Type) > 0 {
			t, err := ctyjson.UnmarshalType(o.Type)
			if err != nil {
				return nil, fmt.Errorf("output %q: type: %w", name, err)
			}
			ty = t
		}
		v, err := ctyjson.Unmarshal(o.Value, ty)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		vals[name] = v
	}
	return vals, nil
}
