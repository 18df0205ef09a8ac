package manifest

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// TestLoadWithinLimits: manifests that use the functions and for
// expressions as people do, up to the limits, still load.
func TestLoadWithinLimits(t *testing.T) {
	src := `stack "a" {
  path = "infra/a"
  vars = {
    grid   = [for i in range(300) : [for j in range(300) : i * j]]
    doc    = jsondecode(file("doc.json"))
    padded = format("%1024s|%-20s|%.3f", "x", "y", 1.5)
    list   = join(",", range(1024))
    lines  = formatlist("%s=%05d", ["a", "b"], [1, 2])
    parts  = length(split(",", join(",", range(1024))))
    words  = replace("a b c", " ", "--")
    ok     = fileexists("doc.json")
  }
}
`
	fsys := tree(map[string]string{"infra/a/main.tf": "", "m.hcl": src, "doc.json": `"` + strings.Repeat("a", 3<<20) + `"`})
	if _, diags := fuzzLoader().Load("r", fsys, "."); diags.HasErrors() {
		t.Fatalf("rejected: %v", Format(diags))
	}
}

// TestLoadLimitsOfLoader: the limits are the loader's; going over the time
// limit or the manifest file size rejects the revision.
func TestLoadLimitsOfLoader(t *testing.T) {
	fsys := tree(map[string]string{"infra/a/main.tf": "", "m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = [for i in range(10) : i] }\n}\n"})
	l := fuzzLoader()
	if _, diags := l.Load("r", fsys, "."); diags.HasErrors() {
		t.Fatalf("rejected with the default limits: %v", Format(diags))
	}
	l.Limits.Time = time.Nanosecond
	_, diags := l.Load("r", fsys, ".")
	if got, want := strings.Join(Format(diags), "\n"), "m.hcl:3:16: Evaluation limit exceeded: Evaluating the manifests took longer than the 1ns allowed"; got != want {
		t.Errorf("out of time: got\n%s\nwant\n%s", got, want)
	}

	l.Limits = DefaultLimits
	fsys["big.hcl"] = &fstest.MapFile{Data: []byte("# " + strings.Repeat("x", 4<<20) + "\n")}
	_, diags = l.Load("r", fsys, ".")
	if got, want := strings.Join(Format(diags), "\n"), `big.hcl:1:1: Manifest too large: "big.hcl" is 4194307 bytes long, more than the 4 MiB allowed`; got != want {
		t.Errorf("big manifest: got\n%s\nwant\n%s", got, want)
	}
}

// TestDecodeLimits: Decode, which evaluates a block again once the
// outputs it references are known, is bounded too: for expressions over
// outputs are counted then.
func TestDecodeLimits(t *testing.T) {
	src := `stack "net" {
  path = "infra/a"
}
stack "app" {
  path = "infra/a"
  vars = { x = [for a in stack.net.outputs.ids : [for b in stack.net.outputs.ids : "${a}${b}"]] }
}
`
	fsys := tree(map[string]string{"infra/a/main.tf": "", "m.hcl": src})
	l := fuzzLoader()
	d, diags := l.Load("r", fsys, ".")
	if diags.HasErrors() {
		t.Fatalf("Load: %v", Format(diags))
	}
	ids := make([]cty.Value, 1000)
	for i := range ids {
		ids[i] = cty.StringVal("x")
	}
	outputs := map[string]map[string]cty.Value{"net": {"ids": cty.ListVal(ids)}}
	_, diags = l.Decode("r", fsys, d, d.Apps["app"], outputs)
	if got, want := strings.Join(Format(diags), "\n"), "m.hcl:6:16: Evaluation limit exceeded: These for expressions would produce more than 100000 elements (nested for expressions multiply)"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	outputs["net"]["ids"] = cty.ListVal(ids[:10])
	if _, diags = l.Decode("r", fsys, d, d.Apps["app"], outputs); diags.HasErrors() {
		t.Errorf("small outputs rejected: %v", Format(diags))
	}
}

// panicStack is a stack applier whose Decode panics once the outputs of
// the stack it references are known.
type panicStack struct{ fakeStack }

func (panicStack) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	var raw struct {
		Path string    `hcl:"path"`
		Vars cty.Value `hcl:"vars,optional"`
	}
	diags := gohcl.DecodeBody(body, dc.Eval, &raw)
	if raw.Vars.IsWhollyKnown() && !raw.Vars.IsNull() {
		panic("boom")
	}
	return &fakeSpec{Path: raw.Path}, diags
}

// TestDecodePanics: a panic in an applier's Decode is an error at the
// block, in Load and in Decode.
func TestDecodePanics(t *testing.T) {
	src := "stack \"net\" {\n  path = \"infra/a\"\n}\nstack \"app\" {\n  path = \"infra/a\"\n  vars = { x = stack.net.outputs.id }\n}\n"
	fsys := tree(map[string]string{"infra/a/main.tf": "", "m.hcl": src})
	l := New(panicStack{})
	d, diags := l.Load("r", fsys, ".")
	if diags.HasErrors() {
		t.Fatalf("Load: %v", Format(diags))
	}
	_, diags = l.Decode("r", fsys, d, d.Apps["app"], map[string]map[string]cty.Value{"net": {"id": cty.StringVal("x")}})
	if got, want := strings.Join(Format(diags), "\n"), `m.hcl:4:1: Internal error: Internal error evaluating stack "app": boom`; got != want {
		t.Errorf("Decode: got\n%s\nwant\n%s", got, want)
	}
	fsys["m.hcl"].Data = []byte("stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = 1 }\n}\n")
	d, diags = l.Load("r", fsys, ".")
	if got, want := strings.Join(Format(diags), "\n"), `m.hcl:1:1: Internal error: Internal error evaluating stack "a": boom`; d != nil || got != want {
		t.Errorf("Load: got %v,\n%s\nwant\n%s", d != nil, got, want)
	}
}
