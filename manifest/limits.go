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
	// maxNesting bounds how deeply brackets, braces, parentheses, strings,
	// interpolations and template directives nest, and maxOperators the
	// operators along one path through an expression. HCL parses and
	// evaluates recursively: 100000 "[" or 50000 nested "${" overflow the
	// goroutine stack, a fatal error that no recover catches.
	maxNesting   = 256
	maxOperators = 4096
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

// operators are the tokens that nest expressions without brackets.
var operators = map[hclsyntax.TokenType]bool{
	hclsyntax.TokenPlus: true, hclsyntax.TokenMinus: true, hclsyntax.TokenStar: true,
	hclsyntax.TokenSlash: true, hclsyntax.TokenPercent: true, hclsyntax.TokenAnd: true,
	hclsyntax.TokenOr: true, hclsyntax.TokenBang: true, hclsyntax.TokenEqualOp: true,
	hclsyntax.TokenNotEqual: true, hclsyntax.TokenLessThan: true, hclsyntax.TokenLessThanEq: true,
	hclsyntax.TokenGreaterThan: true, hclsyntax.TokenGreaterThanEq: true, hclsyntax.TokenQuestion: true,
}

// checkNesting scans the tokens of src, before it is parsed, for nesting
// deeper than maxNesting or more than maxOperators operators along one
// path through an expression (see maxNesting).
func checkNesting(src []byte, filename string) hcl.Diagnostics {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	type open struct {
		brace bool // a block or an object: newlines end its items
		ops   int  // operators on the path when it was opened
	}
	var stack []open
	ops, directives := 0, 0
	tooDeep := func(tok hclsyntax.Token, what string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Manifest too deeply nested",
			Detail: what, Subject: tok.Range.Ptr()}}
	}
	for i, tok := range tokens {
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			stack = append(stack, open{brace: tok.Type == hclsyntax.TokenOBrace, ops: ops})
			if tok.Type == hclsyntax.TokenTemplateControl && i+1 < len(tokens) && tokens[i+1].Type == hclsyntax.TokenIdent {
				switch string(tokens[i+1].Bytes) {
				case "if", "for":
					directives++
				case "endif", "endfor":
					directives--
				}
			}
			if len(stack)+max(directives, 0) > maxNesting {
				return tooDeep(tok, fmt.Sprintf("Brackets, braces, strings and templates nest more than %d deep.", maxNesting))
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(stack) > 0 {
				ops = stack[len(stack)-1].ops
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenNewline:
			if len(stack) == 0 {
				ops = 0
			} else if top := stack[len(stack)-1]; top.brace {
				ops = top.ops
			}
		default:
			if operators[tok.Type] {
				if ops++; ops > maxOperators {
					return tooDeep(tok, fmt.Sprintf("An expression chains more than %d operators.", maxOperators))
				}
			}
		}
	}
	return nil
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
