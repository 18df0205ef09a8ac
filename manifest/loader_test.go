package manifest

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// fakeStack and fakeService are minimal appliers for testing the loader's
// own logic; the real appliers have their own tests.
type fakeSpec struct {
	Path    string            `json:"path"`
	Cluster string            `json:"cluster"`
	Vars    map[string]string `json:"vars"`
}

func (s *fakeSpec) Inputs() []string { return []string{s.Path} }

type fakeStack struct{}

func (fakeStack) Kind() string { return "stack" }
func (fakeStack) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	var raw struct {
		Path string            `hcl:"path"`
		Vars map[string]string `hcl:"vars,optional"`
	}
	diags := gohcl.DecodeBody(body, dc.Eval, &raw)
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, _ := body.JustAttributes()
	p, pd := appliers.CheckPath(dc.Tree, raw.Path, appliers.DirPath, attrs["path"].Expr.Range())
	if pd.HasErrors() {
		return nil, pd
	}
	return &fakeSpec{Path: p, Vars: raw.Vars}, nil
}
func (fakeStack) Plan(context.Context, appliers.Request) (*appliers.Plan, error) { return nil, nil }
func (fakeStack) Apply(context.Context, appliers.Request, *appliers.Plan) (*appliers.Result, error) {
	return nil, nil
}
func (fakeStack) Outputs(context.Context, appliers.Request) (map[string]appliers.Output, error) {
	return nil, nil
}

type fakeService struct{}

func (fakeService) Kind() string { return "ecs_service" }
func (fakeService) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	var raw struct {
		Cluster string `hcl:"cluster"`
		TaskDef string `hcl:"task_definition,optional"`
	}
	diags := gohcl.DecodeBody(body, dc.Eval, &raw)
	if diags.HasErrors() {
		return nil, diags
	}
	return &fakeSpec{Cluster: raw.Cluster, Path: raw.TaskDef}, nil
}
func (fakeService) Plan(context.Context, appliers.Request) (*appliers.Plan, error) { return nil, nil }
func (fakeService) Apply(context.Context, appliers.Request, *appliers.Plan) (*appliers.Result, error) {
	return nil, nil
}

func tree(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func TestLoadGood(t *testing.T) {
	fsys := tree(map[string]string{
		"infra/network/main.tf": "",
		"infra/app/main.tf":     "",
		"services/web.json":     `{"family":"web"}`,
		"deploy/stacks.hcl": `
stack "network" {
  path = "infra/network"
}
stack "app" {
  path       = "infra/app"
  depends_on = [stack.network]
  self_heal  = true
  drift_interval = "5m"
}
`,
		"deploy/apps/web.hcl": `
ecs_service "web" {
  cluster         = stack.network.outputs.cluster_name
  task_definition = jsondecode(file("services/web.json")).family
  ignore_drift    = ["desired_count"]
}
`,
	})
	l := New(fakeStack{}, fakeService{})
	d, diags := l.Load("platform", fsys, "deploy")
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", Format(diags))
	}
	if got, want := strings.Join(d.Order, ","), "network,app,web"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if got := d.Apps["app"].DependsOn; len(got) != 1 || got[0] != "network" {
		t.Errorf("app.DependsOn = %v", got)
	}
	if !d.Apps["app"].SelfHeal || d.Apps["app"].DriftInterval.Minutes() != 5 {
		t.Errorf("shared settings not decoded: %+v", d.Apps["app"])
	}
	web := d.Apps["web"]
	if len(web.Refs) != 1 || web.Refs[0] != "network" || web.DependsOn[0] != "network" {
		t.Errorf("web refs/deps = %v / %v", web.Refs, web.DependsOn)
	}
	if len(web.IgnoreDrift) != 1 {
		t.Errorf("ignore_drift = %v", web.IgnoreDrift)
	}
	// Decoding again with the outputs known resolves the reference.
	spec, diags := l.Decode("platform", fsys, d, web, map[string]map[string]cty.Value{
		"network": {"cluster_name": cty.StringVal("prod")},
	})
	if diags.HasErrors() {
		t.Fatalf("decode: %v", Format(diags))
	}
	if s := spec.(*fakeSpec); s.Cluster != "prod" || s.Path != "web" {
		t.Errorf("decoded spec = %+v", s)
	}
	// An output that the stack does not have is an error at the reference.
	_, diags = l.Decode("platform", fsys, d, web, map[string]map[string]cty.Value{
		"network": {"other": cty.StringVal("x")},
	})
	if got := strings.Join(Format(diags), "\n"); !strings.Contains(got, "deploy/apps/web.hcl:3:") {
		t.Errorf("missing output diagnostic = %q, want a position in deploy/apps/web.hcl line 3", got)
	}
}

func TestLoadErrors(t *testing.T) {
	base := map[string]string{"infra/a/main.tf": "", "infra/b/main.tf": ""}
	cases := []struct {
		name  string
		files map[string]string
		want  []string // every one must appear among the formatted diagnostics
	}{
		{"syntax", map[string]string{"m.hcl": "stack \"a\" {\n  path = \n}\n"},
			[]string{"m.hcl:2:"}},
		{"unknown block", map[string]string{"m.hcl": "stak \"a\" {\n}\n"},
			[]string{"m.hcl:1:1: Unsupported block type", "Known block types: ecs_service, stack"}},
		{"top-level attribute", map[string]string{"m.hcl": "x = 1\n"},
			[]string{"m.hcl:1:1: Unsupported argument"}},
		{"bad name", map[string]string{"m.hcl": "stack \"Bad.Name\" {\n  path = \"infra/a\"\n}\n"},
			[]string{"m.hcl:1:7: Invalid app name"}},
		{"duplicate across files", map[string]string{
			"a.hcl": "stack \"a\" {\n  path = \"infra/a\"\n}\n",
			"b.hcl": "\nstack \"a\" {\n  path = \"infra/b\"\n}\n"},
			[]string{"b.hcl:2:7: Duplicate app name", "already declared at a.hcl:1:1"}},
		{"escaping path", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"../outside\"\n}\n"},
			[]string{"m.hcl:2:10: Invalid path", "escapes the repository"}},
		{"absolute path", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"/etc\"\n}\n"},
			[]string{"m.hcl:2:10: Invalid path", "absolute"}},
		{"missing dir", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/zzz\"\n}\n"},
			[]string{"m.hcl:2:10: Missing path"}},
		{"missing file()", map[string]string{"m.hcl": "ecs_service \"w\" {\n  cluster = \"c\"\n  task_definition = file(\"nope.json\")\n}\n"},
			[]string{"m.hcl:3:", "does not exist in the repository"}},
		{"unknown attribute", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  colour = \"red\"\n}\n"},
			[]string{"m.hcl:3:3: Unsupported argument"}},
		{"cycle", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  depends_on = [stack.b]\n}\nstack \"b\" {\n  path = \"infra/b\"\n  depends_on = [stack.a]\n}\n"},
			[]string{"m.hcl:1:1: Dependency cycle", "a → b → a"}},
		{"reference cycle", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = stack.b.outputs.y }\n}\nstack \"b\" {\n  path = \"infra/b\"\n  vars = { x = stack.a.outputs.y }\n}\n"},
			[]string{"Dependency cycle"}},
		{"undeclared dependency", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  depends_on = [stack.nope]\n}\n"},
			[]string{"m.hcl:3:17: Invalid dependency", `No stack named "nope"`}},
		{"undeclared reference", map[string]string{"m.hcl": "ecs_service \"w\" {\n  cluster = stack.net.outputs.name\n}\n"},
			[]string{"m.hcl:2:13: Reference to undeclared app"}},
		{"malformed reference", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n}\necs_service \"w\" {\n  cluster = stack.a.name\n}\n"},
			[]string{"m.hcl:5:13: Invalid reference", "stack.NAME.outputs.KEY"}},
		{"bad drift interval", map[string]string{"m.hcl": "stack \"a\" {\n  path = \"infra/a\"\n  drift_interval = \"soon\"\n}\n"},
			[]string{"m.hcl:3:20: Invalid duration"}},
	}
	l := New(fakeStack{}, fakeService{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tc.files {
				files[k] = v
			}
			d, diags := l.Load("r", tree(files), ".")
			if d != nil || !diags.HasErrors() {
				t.Fatalf("Load accepted an invalid revision (diags %v)", Format(diags))
			}
			got := strings.Join(Format(diags), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics\n%s\ndo not contain %q", got, w)
				}
			}
		})
	}
}

func TestLoadCollectsEveryError(t *testing.T) {
	fsys := tree(map[string]string{
		"a.hcl": "stack \"a\" {\n  path = \"../x\"\n}\n",
		"b.hcl": "nope \"b\" {\n}\n",
	})
	_, diags := New(fakeStack{}, fakeService{}).Load("r", fsys, "")
	got := Format(diags)
	if len(got) < 2 {
		t.Fatalf("want both errors, got %v", got)
	}
}

func TestOutputValues(t *testing.T) {
	vals, err := OutputValues(map[string]appliers.Output{
		"name":  {Value: []byte(`"prod"`), Type: []byte(`"string"`)},
		"ports": {Value: []byte(`[80,443]`), Type: []byte(`["list","number"]`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if vals["name"].AsString() != "prod" || vals["ports"].LengthInt() != 2 {
		t.Errorf("values = %#v", vals)
	}
}
