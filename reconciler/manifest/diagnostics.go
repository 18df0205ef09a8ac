package manifest

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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

func convertValue(v cty.Value, ty cty.Type) (cty.Value, error) { return convert.Convert(v, ty) }
