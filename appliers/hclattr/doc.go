// Package hclattr decodes the attributes of a manifest block into Go
// values from a declarative list, the one attribute decoder every applier
// shares:
//
//	d := hclattr.New(dc.Eval, hclattr.Messages{})
//	content := d.Content(body, hclattr.Schema{Attrs: []hclattr.Attr{
//		{Name: "cluster", Required: true, Into: &s.Cluster, Check: hclattr.NotEmpty},
//		{Name: "wait_timeout", Into: &s.WaitTimeout},
//	}})
//	diags := d.Diags()
//
// Each Attr names its Go target (Into: *string, *bool, *int32, *int64,
// *[]string, *map[string]string, *time.Duration, or *cty.Value for values
// the applier inspects itself) and optional validation (Check). Values are
// evaluated with the manifest's EvalContext; a value not known yet (a stack
// output at validation time) leaves the target alone and is listed by
// Unknown, so a spec can validate before its references resolve. Every
// diagnostic has the attribute's expression as its subject, which prints
// as file:line:col.
//
// It is built on hcl.Body.Content, cty's convert and gocty rather than on
// gohcl or hcldec: those two turn an unknown value into an error or an
// unknown result without saying which attribute it was, and word their
// type errors themselves, while appliers need to record unknown attributes
// and keep the diagnostic texts users (and tests) already know. Messages
// lets an applier keep its wording.
package hclattr
