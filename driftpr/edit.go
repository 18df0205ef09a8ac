package driftpr

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// Change is one attribute the edit sets to its live value.
type Change struct {
	Path      string `json:"path"`      // drift path, e.g. task_definition.containers.web.image
	Attribute string `json:"attribute"` // manifest attribute, e.g. images.web
	Desired   string `json:"desired"`   // the literal in the manifest before
	Live      string `json:"live"`      // the literal written
}

// ByHand is one drifted attribute the edit does not change.
type ByHand struct {
	Path      string `json:"path"`
	Attribute string `json:"attribute,omitempty"`
	Reason    string `json:"reason"`
}

// Reasons an attribute is left to change by hand.
const (
	ReasonExpression = "set by an expression (a variable, a reference or a function call), not a literal"
	ReasonNotInBlock = "not set by a literal in the block (a task definition file, code, an alias, a secret)"
	ReasonNoKey      = "the live side has a key the block does not"
	ReasonRemoved    = "removed from the live side"
	ReasonSecret     = "the live value is a secret: it is never written to the repository"
	ReasonDisagree   = "another drifted path sets the same attribute to another value"
)

// ErrNoBlock is returned when the file has no block for the app.
var ErrNoBlock = errors.New("no block for the app in the manifest file")

// Edit is the result of EditBlock.
type Edit struct {
	Src     []byte   // the new file content (the old one when nothing changed)
	Changes []Change // in file order
	ByHand  []ByHand
}

// EditBlock sets the attributes of block `kind "app"` in src (a manifest
// file named filename) that live names to their live values, rewriting
// only the bytes of each literal value, so comments, alignment and
// everything else stay as they are. An attribute (or a key of an object
// literal, such as images.web) set by anything but a constant expression
// is left alone and listed in ByHand; so are keys the block lacks and
// values the live side removed. Values equal to the manifest's are
// skipped.
func EditBlock(src []byte, filename, kind, app string, live []appliers.LiveValue) (*Edit, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("parse %s: %w", filename, diags)
	}
	var blk *hclsyntax.Block
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == kind && len(b.Labels) == 1 && b.Labels[0] == app {
			blk = b
		}
	}
	if blk == nil {
		return nil, fmt.Errorf("%w: %s %q in %s", ErrNoBlock, kind, app, filename)
	}
	type splice struct {
		rng hcl.Range
		new string
	}
	var edits []splice
	out := &Edit{}
	done := map[string]Change{} // attribute → its change, when several paths share it
	for _, lv := range live {
		if c, ok := done[lv.Attribute]; ok {
			if c.Live != string(hclwrite.TokensForValue(lv.Value).Bytes()) {
				out.ByHand = append(out.ByHand, ByHand{Path: lv.Path, Attribute: lv.Attribute, Reason: ReasonDisagree})
				continue
			}
			c.Path = lv.Path
			out.Changes = append(out.Changes, c)
			continue
		}
		hand := func(reason string) {
			out.ByHand = append(out.ByHand, ByHand{Path: lv.Path, Attribute: lv.Attribute, Reason: reason})
		}
		expr, reason := findValue(blk.Body, lv.Attribute)
		switch {
		case reason != "":
			hand(reason)
			continue
		case lv.Value.IsNull():
			hand(ReasonRemoved)
			continue
		}
		cur, d := expr.Value(nil)
		if d.HasErrors() || len(expr.Variables()) > 0 || !cur.IsWhollyKnown() {
			hand(ReasonExpression)
			continue
		}
		if eq := cur.Equals(lv.Value); eq.IsKnown() && eq.True() {
			continue
		}
		rng := expr.Range()
		text := string(hclwrite.TokensForValue(lv.Value).Bytes())
		edits = append(edits, splice{rng, text})
		c := Change{Path: lv.Path, Attribute: lv.Attribute, Desired: string(rng.SliceBytes(src)), Live: text}
		done[lv.Attribute] = c
		out.Changes = append(out.Changes, c)
	}
	slices.SortFunc(edits, func(a, b splice) int { return a.rng.Start.Byte - b.rng.Start.Byte })
	slices.SortStableFunc(out.Changes, func(a, b Change) int { return strings.Compare(a.Attribute, b.Attribute) })
	var b []byte
	at := 0
	for _, e := range edits {
		if e.rng.Start.Byte < at {
			return nil, fmt.Errorf("%s: overlapping edits at %s", filename, e.rng)
		}
		b = append(append(b, src[at:e.rng.Start.Byte]...), e.new...)
		at = e.rng.End.Byte
	}
	out.Src = append(b, src[at:]...)
	if _, diags := hclwrite.ParseConfig(out.Src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, fmt.Errorf("the edited %s does not parse: %w", filename, diags)
	}
	return out, nil
}

// findValue finds the expression that sets attr ("name" or "name.key" for
// a key of an object literal) in body, or says why there is none.
func findValue(body *hclsyntax.Body, attr string) (hclsyntax.Expression, string) {
	name, key, nested := strings.Cut(attr, ".")
	a := body.Attributes[name]
	if a == nil {
		return nil, ReasonNotInBlock
	}
	if !nested {
		return a.Expr, ""
	}
	obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, ReasonExpression
	}
	for _, item := range obj.Items {
		k, d := item.KeyExpr.Value(nil)
		if d.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			continue
		}
		if k.AsString() == key {
			return item.ValueExpr, ""
		}
	}
	return nil, ReasonNoKey
}
