package manifest

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// checkFors counts, before anything is evaluated, the elements the for
// expressions of each attribute of body (and its nested blocks) would
// produce, and rejects an attribute whose count is over the element
// limit, at its outermost for expression. HCL evaluates a for expression
// in one go, so nested ones over range(1024) would allocate gigabytes
// before any function could object.
//
// Bytes are estimated along (see count) and bounded by the total the
// function calls may return, Limits.FunctionBytes: a template for
// expression repeating a big literal, or a big string an outer iterator
// variable holds, builds it without calling any function.
//
// The rule: a for expression counts one per element of its collection,
// plus, for each element, what the for expressions in its key, value and
// condition count with the iterator variables bound to that element (the
// condition is ignored: filtered elements count too). So an inner
// collection that depends on an outer iterator variable is evaluated
// once per outer element, with that element, and counting stops as soon
// as the limit is passed, which bounds the work. A for expression inside
// a collection expression counts once, where the collection is evaluated.
// A collection that cannot be evaluated yet (it references outputs not
// known at load time) counts nothing here; Decode counts it again once
// the outputs are known. A collection that fails to evaluate counts
// nothing either: the evaluation proper reports the error.
func checkFors(body *hclsyntax.Body, ctx *hcl.EvalContext, b *budget) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(body.Attributes) {
		diags = append(diags, checkForsExpr(body.Attributes[name].Expr, ctx, b)...)
	}
	for _, blk := range body.Blocks {
		diags = append(diags, checkFors(blk.Body, ctx, b)...)
	}
	return diags
}

// errForTime stops counting when the evaluation runs out of time.
var errForTime = errors.New("out of time")

type forCounter struct {
	b     *budget
	fors  []*hclsyntax.ForExpr // every for expression of the attribute
	total int64                // elements counted
	bytes int64                // bytes estimated
}

// over reports whether the counts are over the limits.
func (c *forCounter) over() bool {
	return c.total > c.b.lim.Elements || c.bytes > c.b.lim.FunctionBytes
}

func checkForsExpr(expr hclsyntax.Expression, ctx *hcl.EvalContext, b *budget) hcl.Diagnostics {
	c := &forCounter{b: b}
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if f, ok := n.(*hclsyntax.ForExpr); ok {
			c.fors = append(c.fors, f)
		}
		return nil
	})
	if len(c.fors) == 0 {
		return nil
	}
	for _, f := range c.outermost(expr.Range(), nil) {
		err := c.count(f, ctx)
		var detail string
		switch {
		case errors.Is(err, errForTime):
			return b.timeDiag(f.SrcRange)
		case c.total > b.lim.Elements:
			detail = fmt.Sprintf("These for expressions would produce more than %d elements (nested for expressions multiply).", b.lim.Elements)
		case c.bytes > b.lim.FunctionBytes:
			detail = fmt.Sprintf("These for expressions would produce more than %s (the strings and values they repeat).", bytesString(b.lim.FunctionBytes))
		default:
			continue
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Evaluation limit exceeded", Detail: detail, Subject: f.SrcRange.Ptr()}}
	}
	return nil
}

// count adds to the counts what f produces in ctx; it stops once they are
// over the limits. Each element counts one, and, as bytes, 16 plus the
// string literals of its key, value and condition plus the size of each
// value they reference (the iterator variables' above all: a template
// repeating a big string they hold copies it every time), leaving out
// what nested for expressions count themselves.
func (c *forCounter) count(f *hclsyntax.ForExpr, ctx *hcl.EvalContext) error {
	for _, inner := range c.outermost(f.CollExpr.Range(), nil) {
		if err := c.count(inner, ctx); err != nil || c.over() {
			return err
		}
	}
	if c.b.errTime() != nil {
		return errForTime
	}
	coll, diags := f.CollExpr.Value(ctx)
	coll, _ = coll.UnmarkDeep()
	if diags.HasErrors() || !coll.IsKnown() || coll.IsNull() || !coll.CanIterateElements() {
		return nil
	}
	kids := c.outermost(f.SrcRange, f)
	static, travs := c.body(f, kids)
	if len(kids) == 0 && len(travs) == 0 {
		n := int64(coll.LengthInt())
		c.total += n
		c.bytes += n * (16 + static)
		return nil
	}
	// One scope for every element: it is used only during its iteration.
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{}
	for it := coll.ElementIterator(); it.Next(); {
		c.total++
		k, v := it.Element()
		child.Variables[f.ValVar] = v
		if f.KeyVar != "" {
			child.Variables[f.KeyVar] = k
		}
		c.bytes += 16 + static
		for _, t := range travs {
			if rv, diags := t.TraverseAbs(child); !diags.HasErrors() {
				c.bytes += valueSize(rv, c.b.lim.FunctionBytes-c.bytes+1)
			}
		}
		if c.over() {
			return nil
		}
		for _, kid := range kids {
			if err := c.count(kid, child); err != nil || c.over() {
				return err
			}
		}
		if c.b.errTime() != nil {
			return errForTime
		}
	}
	return nil
}

// body returns the bytes of the string literals in f's key, value and
// condition and the traversals they make, outside the for expressions
// kids.
func (c *forCounter) body(f *hclsyntax.ForExpr, kids []*hclsyntax.ForExpr) (int64, []hcl.Traversal) {
	inKid := func(r hcl.Range) bool {
		for _, k := range kids {
			if within(r, k.SrcRange) {
				return true
			}
		}
		return false
	}
	var static int64
	var travs []hcl.Traversal
	for _, e := range []hclsyntax.Expression{f.KeyExpr, f.ValExpr, f.CondExpr} {
		if e == nil {
			continue
		}
		hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
			if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String && known(lit.Val) && !inKid(lit.SrcRange) {
				static += int64(len(lit.Val.AsString()))
			}
			return nil
		})
		for _, t := range hclsyntax.Variables(e) {
			if !inKid(t.SourceRange()) {
				travs = append(travs, t)
			}
		}
	}
	return static, travs
}

// outermost returns the for expressions inside rng that no other for
// expression inside rng contains, leaving out parent itself and, when
// parent is set, the for expressions of its collection.
func (c *forCounter) outermost(rng hcl.Range, parent *hclsyntax.ForExpr) []*hclsyntax.ForExpr {
	var in []*hclsyntax.ForExpr
	for _, f := range c.fors {
		if f == parent || !within(f.SrcRange, rng) || (parent != nil && within(f.SrcRange, parent.CollExpr.Range())) {
			continue
		}
		in = append(in, f)
	}
	var out []*hclsyntax.ForExpr
	for _, f := range in {
		nested := false
		for _, g := range in {
			if g != f && within(f.SrcRange, g.SrcRange) {
				nested = true
				break
			}
		}
		if !nested {
			out = append(out, f)
		}
	}
	return out
}

// within reports whether a lies inside r.
func within(a, r hcl.Range) bool {
	return a.Filename == r.Filename && a.Start.Byte >= r.Start.Byte && a.End.Byte <= r.End.Byte
}
