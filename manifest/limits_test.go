package manifest

import (
	"strings"
	"testing"
)

// TestLoadLimits: numbers whose decimal form would take minutes to print
// and indent() calls that would exhaust memory are errors, not hangs or
// crashes.
func TestLoadLimits(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"tiny literal", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = 1e-999999 }\n}\n",
			[]string{"m.hcl:3:16: Number out of range"}},
		{"huge negative literal in template", "stack \"a\" {\n  path = \"infra/a${-1e999999}\"\n}\n",
			[]string{"m.hcl:2:21: Number out of range"}},
		{"tonumber", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = tonumber(\"1e-999999\") }\n}\n",
			[]string{"m.hcl:3:", "magnitude between about 1e-300 and 1e300"}},
		{"jsondecode", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = jsondecode(\"{\\\"a\\\": [1e400]}\").a[0] }\n}\n",
			[]string{"m.hcl:3:", "magnitude between about 1e-300 and 1e300"}},
		{"parseint", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = parseint(\"1" + strings.Repeat("0", 400) + "\", 10) }\n}\n",
			[]string{"m.hcl:3:", "magnitude between about 1e-300 and 1e300"}},
		{"indent too far", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = indent(9999999999, \"a\\nb\") }\n}\n",
			[]string{"m.hcl:3:", "spaces must be a whole number from 0 to 1024"}},
		{"indent negative", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = indent(-1, \"a\\nb\") }\n}\n",
			[]string{"m.hcl:3:", "spaces must be a whole number from 0 to 1024"}},
		{"indent result too long", "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = indent(1024, join(\"\\n\", [for i in range(1024) : join(\"\\n\", range(20))])) }\n}\n",
			[]string{"m.hcl:3:", "more than the 16777216 allowed"}},
	}
	// Before the nesting limits, each of these killed the process with a
	// stack overflow.
	deep := func(expr string) string {
		return "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = " + expr + " }\n}\n"
	}
	cases = append(cases, []struct {
		name, src string
		want      []string
	}{
		{"deep brackets", deep(strings.Repeat("[", 100000) + "1" + strings.Repeat("]", 100000)),
			[]string{"m.hcl:3:270: Manifest too deeply nested: Brackets, braces, strings and templates nest more than 256 deep"}},
		{"deep templates", deep(strings.Repeat("\"${", 50000) + "1" + strings.Repeat("}\"", 50000)),
			[]string{"Manifest too deeply nested"}},
		{"deep directives", deep("\"" + strings.Repeat("%{ if true }", 300) + strings.Repeat("%{ endif }", 300) + "\""),
			[]string{"Manifest too deeply nested"}},
		{"long operator chain", deep(strings.Repeat("1+", 10000) + "1"),
			[]string{"Manifest too deeply nested: An expression chains more than 4096 operators"}},
		{"long chain across lines in parentheses", deep("(" + strings.Repeat("-\n", 5000) + "1)"),
			[]string{"Manifest too deeply nested: An expression chains more than 4096 operators"}},
	}...)
	l := New(fakeStack{}, fakeService{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, diags := l.Load("r", tree(map[string]string{"infra/a/main.tf": "", "m.hcl": tc.src}), ".")
			if d != nil || !diags.HasErrors() {
				t.Fatalf("Load accepted the manifest (diags %v)", Format(diags))
			}
			got := strings.Join(Format(diags), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics\n%s\ndo not contain %q", got, w)
				}
			}
		})
	}
	// Numbers in range, indent as people use it, and nesting and operator
	// chains within the limits still work.
	ok := deep("\"${length(" + strings.Repeat("[", 200) + strings.Repeat("1+", 4000) + "1" + strings.Repeat("]", 200) + ")}\"")
	ok += strings.Repeat("stack \"b\" {\n  path = \"infra/a\"\n  vars = { x = "+strings.Repeat("1+", 4000)+"1 }\n}\n", 1)
	if _, diags := l.Load("r", tree(map[string]string{"infra/a/main.tf": "", "m.hcl": ok}), "."); diags.HasErrors() {
		t.Errorf("nesting within the limits rejected: %v", Format(diags))
	}
	_, diags := l.Load("r", tree(map[string]string{"infra/a/main.tf": "", "m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = \"${1e300} ${-2.5e-300} ${tonumber(\"1e-300\")} ${indent(2, \"a\\nb\")}\" }\n}\n"}), ".")
	if diags.HasErrors() {
		t.Errorf("numbers in range rejected: %v", Format(diags))
	}
}

// TestLoadStableSuggestions: HCL picks the "Did you mean" function in map
// order; the loader makes it the closest name, ties broken alphabetically.
func TestLoadStableSuggestions(t *testing.T) {
	l := New(fakeStack{}, fakeService{})
	fsys := tree(map[string]string{"infra/a/main.tf": "", "m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = jsoecode(\"1\"), y = lenght([]), z = nosuchfunction(1) }\n}\n"})
	want := []string{
		`m.hcl:3:10: Unsuitable value type: Unsuitable value: value must be known`,
		`m.hcl:3:16: Call to unknown function: There is no function named "jsoecode". Did you mean "jsondecode"?`,
		`m.hcl:3:35: Call to unknown function: There is no function named "lenght". Did you mean "length"?`,
		`m.hcl:3:51: Call to unknown function: There is no function named "nosuchfunction"`,
	}
	for i := 0; i < 20; i++ {
		_, diags := l.Load("r", fsys, ".")
		got := Format(diags)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("load %d: diagnostics\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
