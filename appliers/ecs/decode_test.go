package ecs

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/driftless/driftless/appliers"
)

const webTaskDef = `{
  "family": "web",
  "containerDefinitions": [{
    "name": "web", "image": "nginx:1.25", "memory": 128,
    "portMappings": [{"containerPort": 80}],
    "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
  }]
}`

// evalCtx is the manifest evaluation context the reconciler provides:
// file() reads tree, jsondecode, and stack outputs (unknown when known is
// false).
func evalCtx(tree fs.FS, outputs map[string]cty.Value) *hcl.EvalContext {
	file := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := fs.ReadFile(tree, args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(string(b)), nil
		},
	})
	vars := map[string]cty.Value{}
	if outputs != nil {
		vars["stack"] = cty.ObjectVal(map[string]cty.Value{"network": cty.ObjectVal(map[string]cty.Value{"outputs": cty.ObjectVal(outputs)})})
	}
	return &hcl.EvalContext{
		Variables: vars,
		Functions: map[string]function.Function{"file": file, "jsondecode": stdlib.JSONDecodeFunc},
	}
}

func decode(t testing.TB, src string, tree fs.FS, outputs map[string]cty.Value) (*Spec, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "deploy/app.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	if tree == nil {
		tree = fstest.MapFS{"services/web/taskdef.json": {Data: []byte(webTaskDef)}}
	}
	a := New(nil, nil, Options{}, nil)
	spec, diags := a.Decode(appliers.DecodeContext{Repo: "platform", App: "web", Tree: tree, Eval: evalCtx(tree, outputs)}, f.Body)
	if spec == nil {
		return nil, diags
	}
	return spec.(*Spec), diags
}

func TestDecodeDefaults(t *testing.T) {
	s, diags := decode(t, `
cluster         = "main"
task_definition = jsondecode(file("services/web/taskdef.json"))
`, nil, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if s.Service != "web" || s.Cluster != "main" || s.WaitTimeout != 10*time.Minute || s.BakeTime != 0 || !s.RollbackOnFailure || s.DesiredCount != nil {
		t.Errorf("defaults: %+v", s)
	}
	if got := s.Inputs(); len(got) != 1 || got[0] != "services/web/taskdef.json" {
		t.Errorf("Inputs() = %v", got)
	}
}

func TestDecodeAll(t *testing.T) {
	s, diags := decode(t, `
cluster         = stack.network.outputs.cluster_name
service         = "web-svc"
task_definition = jsondecode(file("services/web/taskdef.json"))
images          = { web = "nginx:1.27" }
desired_count   = 3
wait_timeout    = "5m"
alarms          = ["web-5xx"]
rollback_on_failure = false
launch_type     = "fargate"
depends_on      = [stack.network]
network_configuration {
  subnets          = ["subnet-1"]
  security_groups  = ["sg-1"]
  assign_public_ip = true
}
`, nil, map[string]cty.Value{"cluster_name": cty.StringVal("prod")})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if s.Cluster != "prod" || s.Service != "web-svc" || *s.DesiredCount != 3 || s.WaitTimeout != 5*time.Minute ||
		s.BakeTime != DefaultBakeWithAlarm || s.RollbackOnFailure || s.LaunchType != "FARGATE" ||
		s.Network == nil || s.Network.Subnets[0] != "subnet-1" || !s.Network.AssignPublicIP {
		t.Errorf("spec: %+v", s)
	}
	if !strings.Contains(string(s.TaskDefinition), `"Image":"nginx:1.27"`) {
		t.Errorf("images override not applied: %s", s.TaskDefinition)
	}
}

func TestDecodeUnknownOutputs(t *testing.T) {
	s, diags := decode(t, `
cluster         = stack.network.outputs.cluster_name
task_definition = jsondecode(file("services/web/taskdef.json"))
images          = { web = stack.network.outputs.image }
`, nil, map[string]cty.Value{"cluster_name": cty.UnknownVal(cty.String), "image": cty.DynamicVal})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if strings.Join(s.Unknown, ",") != "cluster,images" {
		t.Errorf("Unknown = %v", s.Unknown)
	}
	if _, err := New(nil, nil, Options{}, nil).Plan(t.Context(), appliers.Request{App: "web", Spec: s}); !appliers.IsStalled(err) {
		t.Errorf("planning a spec with unknowns: %v, want a Stalled error", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tree := fstest.MapFS{
		"services/web/taskdef.json": {Data: []byte(webTaskDef)},
		"typo.json":                 {Data: []byte(`{"family":"web","containerDefinitions":[{"name":"web","image":"x","imagee":"y"}]}`)},
	}
	for _, tc := range []struct{ name, src, want string }{
		{"unknown attribute", `cluster = "c"
task_definition = "web:1"
colour = "blue"`, `3,1-7: Unsupported argument`},
		{"missing cluster", `task_definition = "web:1"`, `Missing required argument`},
		{"bad duration", `cluster = "c"
task_definition = "web:1"
wait_timeout = "ten minutes"`, `3,16-29: Invalid duration`},
		{"negative count", `cluster = "c"
task_definition = "web:1"
desired_count = -1`, `Invalid desired_count`},
		{"fractional count", `cluster = "c"
task_definition = "web:1"
desired_count = 1.5`, `Invalid desired_count`},
		{"unknown taskdef field", `cluster = "c"
task_definition = jsondecode(file("typo.json"))`, `unknown field "imagee"`},
		{"image for unknown container", `cluster = "c"
task_definition = jsondecode(file("services/web/taskdef.json"))
images = { api = "x" }`, `no container "api"`},
		{"taskdef not an object", `cluster = "c"
task_definition = [1]`, `Invalid task_definition`},
		{"bad launch type", `cluster = "c"
task_definition = "web:1"
launch_type = "LAMBDA"`, `Invalid launch_type`},
		{"network without subnets", `cluster = "c"
task_definition = "web:1"
network_configuration {
}`, `Missing required argument`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decode(t, tc.src, tree, nil)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var msgs []string
			for _, d := range diags {
				msg := d.Summary + ": " + d.Detail
				if d.Subject != nil {
					msg = d.Subject.String() + ": " + msg
				}
				msgs = append(msgs, msg)
			}
			if got := strings.Join(msgs, "\n"); !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics %q do not contain %q", got, tc.want)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without position: %s", d.Summary)
				}
			}
		})
	}
}

// A task definition file that differs only in order and defaults gives the
// same spec JSON: the reconciler does not even re-plan.
func TestSpecJSONDeterministic(t *testing.T) {
	reordered := `{"containerDefinitions":[{"environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
"portMappings":[{"containerPort":80,"protocol":"tcp"}],"essential":true,"memory":128,"image":"nginx:1.25","name":"web","cpu":0,
"mountPoints":[],"volumesFrom":[]}],"family":"web","networkMode":"bridge","volumes":[]}`
	src := `cluster = "c"
task_definition = jsondecode(file("services/web/taskdef.json"))
`
	var out []string
	for _, td := range []string{webTaskDef, reordered} {
		s, diags := decode(t, src, fstest.MapFS{"services/web/taskdef.json": {Data: []byte(td)}}, nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if out[0] != out[1] {
		t.Errorf("spec JSON differs:\n%s\n%s", out[0], out[1])
	}
}
