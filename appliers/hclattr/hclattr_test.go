package hclattr

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func body(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "m.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}

func TestDecode(t *testing.T) {
	var (
		name    string
		on      bool
		n       int32
		list    []string
		m       map[string]string
		dur     time.Duration
		raw     cty.Value
		checked string
	)
	eval := &hcl.EvalContext{Variables: map[string]cty.Value{"out": cty.DynamicVal}}
	d := New(eval, Messages{})
	d.Content(body(t, `
name    = "web"
on      = "true"
n       = 3
list    = ["a", null]
m       = { b = "2", a = "1" }
dur     = "90s"
raw     = { x = 1 }
later   = out.value
checked = "bad"
`), Schema{Attrs: []Attr{
		{Name: "name", Required: true, Into: &name},
		{Name: "on", Into: &on},
		{Name: "n", Into: &n},
		{Name: "list", Into: &list, NullAsEmpty: true},
		{Name: "m", Into: &m},
		{Name: "dur", Into: &dur},
		{Name: "raw", Into: &raw},
		{Name: "later", Into: &name},
		{Name: "checked", Into: &checked, Check: func(*hcl.Attribute) *Problem { return Problemf("Invalid checked", "%q is bad", checked) }},
		{Name: "absent", Into: &name},
	}})
	if name != "web" || !on || n != 3 || len(list) != 2 || list[1] != "" || m["a"] != "1" || dur != 90*time.Second || !raw.Type().IsObjectType() {
		t.Errorf("decoded %q %v %d %q %v %v %#v", name, on, n, list, m, dur, raw)
	}
	if checked != "" || d.Set("checked") || !d.Set("name") || d.Set("later") {
		t.Errorf("check: %q set=%v", checked, d.Set("checked"))
	}
	if u := d.Unknown(); len(u) != 1 || u[0] != "later" || !d.IsUnknown("later") {
		t.Errorf("unknown = %v", u)
	}
	diags := d.Diags()
	if len(diags) != 1 || diags[0].Summary != "Invalid checked" || diags[0].Subject.Start.Line != 10 || diags[0].Subject.Filename != "m.hcl" {
		t.Errorf("diags = %v", diags)
	}
}

func TestDecodeErrors(t *testing.T) {
	var (
		s   string
		l   []string
		dur time.Duration
	)
	d := New(nil, Messages{Null: func(name string) *Problem { return Problemf("Invalid value", "%s must not be null", name) }})
	d.Content(body(t, `
s   = null
l   = "x"
dur = "soon"
`), Schema{Attrs: []Attr{
		{Name: "s", Into: &s},
		{Name: "l", Into: &l, What: "a list of strings"},
		{Name: "dur", Into: &dur},
		{Name: "req", Required: true, Into: &s},
	}})
	var got []string
	for _, dg := range d.Diags() {
		got = append(got, dg.Summary+": "+dg.Detail)
	}
	want := []string{
		"Missing required argument: The argument \"req\" is required, but no definition was found.",
		"Invalid value: s must not be null",
		"Incorrect attribute value type: l must be a list of strings: list of string required, but have string",
		"Invalid duration: dur: \"soon\" is not a duration like \"90s\" or \"10m\"",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
