package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Limits that keep a hostile or mistaken manifest from stalling or
// crashing the controller while it is loaded.
const (
	// maxNumberExp bounds the binary exponent of numbers written in
	// manifests or made by tonumber, parseint and jsondecode: math/big
	// needs time quadratic in the exponent to print a number as decimal
	// (golang/go#11068), which HCL does whenever a number becomes a string,
	// so that 1e-999999 would stall the loader for minutes.
	maxNumberExp = 997 // 2^997 ≈ 1.3e300
	// maxIndent bounds indent()'s spaces, and maxIndentResult the length of
	// its result: stdlib's indent panics on a negative count and allocates
	// whatever it is asked for (indent(9999999999, "a\nb") is a fatal out
	// of memory, which no recover catches).
	maxIndent       = 1024
	maxIndentResult = 16 << 20
)

var errNumberRange = errors.New("numbers in manifests must be zero or of a magnitude between about 1e-300 and 1e300")

// numberInRange reports whether v, a known non-null number, can be
// printed quickly.
func numberInRange(v cty.Value) bool {
	f := v.AsBigFloat()
	if f.Sign() == 0 || f.IsInf() {
		return true
	}
	exp := f.MantExp(nil)
	return exp >= -maxNumberExp && exp <= maxNumberExp
}

// checkNumbers returns errNumberRange when v holds a number out of range.
func checkNumbers(v cty.Value) error {
	v, _ = v.UnmarkDeep()
	return cty.Walk(v, func(_ cty.Path, e cty.Value) (bool, error) {
		if e.Type() == cty.Number && e.IsKnown() && !e.IsNull() && !numberInRange(e) {
			return false, errNumberRange
		}
		return true, nil
	})
}

// checkLiterals reports the number literals of f that are out of range.
func checkLiterals(f *hcl.File) hcl.Diagnostics {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	return hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.Number || !lit.Val.IsKnown() || lit.Val.IsNull() || numberInRange(lit.Val) {
			return nil
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Number out of range",
			Detail: strings.ToUpper(errNumberRange.Error()[:1]) + errNumberRange.Error()[1:] + ".", Subject: lit.SrcRange.Ptr()}}
	})
}

// checkedNumbers wraps f so that a result holding a number out of range is
// an error.
func checkedNumbers(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        func(args []cty.Value) (cty.Type, error) { return f.ReturnTypeForValues(args) },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil {
				return cty.NilVal, err
			}
			if err := checkNumbers(v); err != nil {
				return cty.NilVal, err
			}
			return v, nil
		},
	})
}

// indentFunc is stdlib's indent with spaces from 0 to maxIndent and a
// result of at most maxIndentResult bytes.
var indentFunc = function.New(&function.Spec{
	Description: stdlib.IndentFunc.Description(),
	Params:      stdlib.IndentFunc.Params(),
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var spaces int
		if err := gocty.FromCtyValue(args[0], &spaces); err != nil || spaces < 0 || spaces > maxIndent {
			return cty.NilVal, function.NewArgErrorf(0, "spaces must be a whole number from 0 to %d", maxIndent)
		}
		s := args[1].AsString()
		if n := len(s) + spaces*strings.Count(s, "\n"); n > maxIndentResult {
			return cty.NilVal, fmt.Errorf("the result would be %d bytes long, more than the %d allowed", n, maxIndentResult)
		}
		return stdlib.IndentFunc.Call(args)
	},
})
