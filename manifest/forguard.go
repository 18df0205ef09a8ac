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
	total int64
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
		switch {
		case errors.Is(err, errForTime):
			return b.timeDiag(f.SrcRange)
		case c.total > b.lim.Elements:
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Evaluation limit exceeded",
				Detail:  fmt.Sprintf("These for expressions would produce more than %d elements (nested for expressions multiply).", b.lim.Elements),
				Subject: f.SrcRange.Ptr()}}
		}
	}
	return nil
}

// count adds to c.total what f produces in ctx; it stops once the total
// is over the limit.
func (c *forCounter) count(f *hclsyntax.ForExpr, ctx *hcl.EvalContext) error {
	for _, inner := range c.outermost(f.CollExpr.Range(), nil) {
		if err := c.count(inner, ctx); err != nil || c.total > c.b.lim.Elements {
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
	if len(kids) == 0 {
		c.total += int64(coll.LengthInt())
		return nil
	}
	for it := coll.ElementIterator(); it.Next(); {
		c.total++
		k, v := it.Element()
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{f.ValVar: v}
		if f.KeyVar != "" {
			child.Variables[f.KeyVar] = k
		}
		for _, kid := range kids {
			if err := c.count(kid, child); err != nil || c.total > c.b.lim.Elements {
				return err
			}
		}
		if c.b.errTime() != nil {
			return errForTime
		}
	}
	return nil
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
