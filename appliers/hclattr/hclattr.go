package hclattr

import (
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Attr declares one attribute of a block.
type Attr struct {
	Name     string
	Required bool
	// Into points at the Go value the attribute decodes into; nil accepts
	// the attribute without decoding it (e.g. depends_on, read elsewhere).
	Into any
	// Type is the cty type to convert to; zero means the type Into
	// implies (cty.String for a *time.Duration, the value as written for
	// a *cty.Value).
	Type cty.Type
	// What names the expected type in messages, e.g. "a list of strings";
	// default: the type's friendly name.
	What string
	// NullAsEmpty reads null elements of a list or map of strings as
	// empty strings, so that a Check rejecting empty elements rejects
	// null ones with the same words; otherwise they are a type error.
	NullAsEmpty bool
	// Check validates the decoded value (Into is already set). A problem
	// is reported at the attribute's expression and Into is reset to its
	// zero value.
	Check func(attr *hcl.Attribute) *Problem
}

// Problem is what a Check found wrong.
type Problem struct{ Summary, Detail string }

// Problemf is a Problem with a formatted detail.
func Problemf(summary, format string, args ...any) *Problem {
	return &Problem{Summary: summary, Detail: fmt.Sprintf(format, args...)}
}

// Schema is a block's attributes and nested block types.
type Schema struct {
	Attrs  []Attr
	Blocks []hcl.BlockHeaderSchema
}

// Messages words the decoder's own diagnostics; nil fields use the
// defaults shown.
type Messages struct {
	// Type: a value that does not convert. Default: "Incorrect attribute
	// value type", "NAME must be WHAT: ERR".
	Type func(name, what string, err error) Problem
	// Null: a null value. Default: nil, a null attribute counts as absent.
	Null func(name string) *Problem
	// Unknown: a value not known yet. Default: nil, the attribute is
	// listed by Unknown and its target left alone; set it for attributes
	// that must be known when the manifest is read.
	Unknown func(name string) *Problem
	// Duration: a string that is not a duration. Default: "Invalid
	// duration", `NAME: "S" is not a duration like "90s" or "10m"`.
	Duration func(name, s string) Problem
}

// Decoder evaluates attributes, collecting diagnostics and the names of
// attributes whose values are unknown.
type Decoder struct {
	eval    *hcl.EvalContext
	msg     Messages
	diags   hcl.Diagnostics
	unknown []string
	set     map[string]bool
}

// New returns a decoder evaluating with eval.
func New(eval *hcl.EvalContext, msg Messages) *Decoder {
	if msg.Type == nil {
		msg.Type = func(name, what string, err error) Problem {
			return Problem{"Incorrect attribute value type", fmt.Sprintf("%s must be %s: %v", name, what, err)}
		}
	}
	if msg.Duration == nil {
		msg.Duration = func(name, s string) Problem {
			return Problem{"Invalid duration", fmt.Sprintf("%s: %q is not a duration like \"90s\" or \"10m\"", name, s)}
		}
	}
	return &Decoder{eval: eval, msg: msg, set: map[string]bool{}}
}

// Set reports whether attribute name was decoded into its target and
// passed its Check.
func (d *Decoder) Set(name string) bool { return d.set[name] }

// Diags returns every diagnostic so far.
func (d *Decoder) Diags() hcl.Diagnostics { return d.diags }

// Unknown returns the attributes whose values were unknown, in decode order.
func (d *Decoder) Unknown() []string { return d.unknown }

// IsUnknown reports whether attribute name was unknown.
func (d *Decoder) IsUnknown(name string) bool { return slices.Contains(d.unknown, name) }

// Errorf records an error diagnostic at rng.
func (d *Decoder) Errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr()})
}

// Append records diagnostics found elsewhere.
func (d *Decoder) Append(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

// Content reads body against s and decodes every attribute present into
// its target. It returns the content for what the schema cannot say
// (nested blocks, expression ranges).
func (d *Decoder) Content(body hcl.Body, s Schema) *hcl.BodyContent {
	hs := &hcl.BodySchema{Blocks: s.Blocks}
	for _, a := range s.Attrs {
		hs.Attributes = append(hs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	content, diags := body.Content(hs)
	d.diags = append(d.diags, diags...)
	for _, a := range s.Attrs {
		if attr := content.Attributes[a.Name]; attr != nil && a.Into != nil {
			d.Decode(attr, a)
		}
	}
	return content
}

// Value evaluates attr. ok is false when it is invalid (diagnostics
// recorded), null or unknown (recorded in Unknown).
func (d *Decoder) Value(attr *hcl.Attribute) (cty.Value, bool) {
	v, diags := attr.Expr.Value(d.eval)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		if d.msg.Unknown != nil {
			if p := d.msg.Unknown(attr.Name); p != nil {
				d.problem(attr, *p)
				return cty.NilVal, false
			}
		}
		d.unknown = append(d.unknown, attr.Name)
		return cty.NilVal, false
	}
	if v.IsNull() {
		if d.msg.Null != nil {
			if p := d.msg.Null(attr.Name); p != nil {
				d.problem(attr, *p)
			}
		}
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	return v, true
}

var durationType = reflect.TypeFor[time.Duration]()

// Decode decodes one attribute as a declares; it reports whether the
// target was set.
func (d *Decoder) Decode(attr *hcl.Attribute, a Attr) bool {
	v, ok := d.Value(attr)
	if !ok {
		return false
	}
	target := reflect.ValueOf(a.Into)
	if target.Kind() != reflect.Pointer || target.IsNil() {
		panic(fmt.Sprintf("hclattr: Into of %s is %T, not a pointer", a.Name, a.Into))
	}
	elem := target.Elem()
	isDuration := elem.Type() == durationType
	ty := a.Type
	switch {
	case ty != cty.NilType:
	case isDuration:
		ty = cty.String
	default:
		if raw, ok := a.Into.(*cty.Value); ok {
			*raw = v
			return d.check(attr, a, elem)
		}
		var err error
		if ty, err = gocty.ImpliedType(a.Into); err != nil {
			panic(fmt.Sprintf("hclattr: Into of %s: %v", a.Name, err))
		}
	}
	c, err := convert.Convert(v, ty)
	if err != nil {
		d.problem(attr, d.msg.Type(a.Name, what(a, ty), err))
		return false
	}
	if raw, ok := a.Into.(*cty.Value); ok {
		*raw = c
		return d.check(attr, a, elem)
	}
	if isDuration {
		dur, err := time.ParseDuration(c.AsString())
		if err != nil {
			d.problem(attr, d.msg.Duration(a.Name, c.AsString()))
			return false
		}
		elem.SetInt(int64(dur))
		return d.check(attr, a, elem)
	}
	if a.NullAsEmpty {
		c = nullStringsEmpty(c)
	}
	if err := gocty.FromCtyValue(c, a.Into); err != nil {
		d.problem(attr, d.msg.Type(a.Name, what(a, ty), err))
		elem.SetZero()
		return false
	}
	return d.check(attr, a, elem)
}

func (d *Decoder) check(attr *hcl.Attribute, a Attr, elem reflect.Value) bool {
	if a.Check != nil {
		if p := a.Check(attr); p != nil {
			d.problem(attr, *p)
			elem.SetZero()
			return false
		}
	}
	d.set[a.Name] = true
	return true
}

func (d *Decoder) problem(attr *hcl.Attribute, p Problem) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: p.Summary, Detail: p.Detail,
		Subject: attr.Expr.Range().Ptr(), Expression: attr.Expr, EvalContext: d.eval})
}

func what(a Attr, ty cty.Type) string {
	if a.What != "" {
		return a.What
	}
	return ty.FriendlyName()
}

// WholeNumber converts a known number to an int64 when it is whole and in
// [lo, hi].
func WholeNumber(v cty.Value, lo, hi int64) (int64, bool) {
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, false
	}
	n, acc := v.AsBigFloat().Int64()
	return n, acc == big.Exact && n >= lo && n <= hi
}

// nullStringsEmpty replaces null strings in a list or map of strings by
// empty ones, so that a Check rejecting empty elements rejects null ones
// with the same words.
func nullStringsEmpty(v cty.Value) cty.Value {
	ty := v.Type()
	if !(ty.IsListType() || ty.IsMapType()) || ty.ElementType() != cty.String || v.LengthInt() == 0 {
		return v
	}
	if ty.IsListType() {
		vals := v.AsValueSlice()
		for i, e := range vals {
			if e.IsNull() {
				vals[i] = cty.StringVal("")
			}
		}
		return cty.ListVal(vals)
	}
	m := v.AsValueMap()
	for k, e := range m {
		if e.IsNull() {
			m[k] = cty.StringVal("")
		}
	}
	return cty.MapVal(m)
}
