package terraform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

func testTree() fstest.MapFS {
	return fstest.MapFS{
		"infra/net/main.tf": {Data: []byte(`module "vpc" {
  source = "../modules/vpc"
}
module "remote" {
  source = "terraform-aws-modules/vpc/aws"
}
`)},
		"infra/net/prod.tfvars":        {Data: []byte(`x = 1`)},
		"infra/modules/vpc/main.tf":    {Data: []byte("module \"sub\" {\n  source = \"./sub\"\n}\nmodule \"back\" {\n  source = \"../vpc\"\n}\n")},
		"infra/modules/vpc/sub/sub.tf": {Data: []byte(`resource "terraform_data" "x" {}`)},
		"infra/bad/main.tf":            {Data: []byte("module \"evil\" {\n  source = \"../../../outside\"\n}\n")},
		"infra/missing/main.tf":        {Data: []byte("module \"gone\" {\n  source = \"./nope\"\n}\n")},
		"infra/syntax/main.tf":         {Data: []byte("resource \"x\" {\n")},
		"README.md":                    {Data: []byte("hi")},
	}
}

func decodeTestBlock(t *testing.T, tree fstest.MapFS, src string) (*Spec, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "deploy/stacks.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	blk := f.Body.(*hclsyntax.Body).Blocks[0]
	ectx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"stack": cty.ObjectVal(map[string]cty.Value{
			"network": cty.ObjectVal(map[string]cty.Value{"outputs": cty.DynamicVal}),
			"known":   cty.ObjectVal(map[string]cty.Value{"outputs": cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal("vpc-1")})}),
		}),
	}}
	dc := appliers.DecodeContext{Repo: "platform", App: blk.Labels[0], Tree: tree, Eval: ectx, Block: blk.DefRange()}
	return decodeSpec(dc, blk.Body)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    *Spec
		wantErr string // substring of a diagnostic; "" means no error
		errPos  string // "line:col" of that diagnostic's subject
	}{
		{
			name: "minimal defaults",
			src:  "stack \"net\" {\n  path = \"infra/net\"\n}\n",
			want: &Spec{Path: "infra/net", Workspace: "default", AutoApply: true, Modules: []string{"infra/modules/vpc", "infra/modules/vpc/sub"}},
		},
		{
			name: "everything",
			src: `stack "net" {
  path           = "./infra/net/"
  workspace      = "prod"
  vars           = { env = "prod", n = 3, tags = { a = "b" }, l = [1, 2], id = stack.known.outputs.id }
  var_files      = ["infra/net/prod.tfvars"]
  backend_config = { key = "net/prod.tfstate" }
  auto_apply     = false
  depends_on     = [stack.network]
}`,
			want: &Spec{Path: "infra/net", Workspace: "prod", AutoApply: false,
				Vars:          map[string]json.RawMessage{"env": json.RawMessage(`"prod"`), "n": json.RawMessage(`3`), "tags": json.RawMessage(`{"a":"b"}`), "l": json.RawMessage(`[1,2]`), "id": json.RawMessage(`"vpc-1"`)},
				VarFiles:      []string{"infra/net/prod.tfvars"},
				BackendConfig: map[string]string{"key": "net/prod.tfstate"},
				Modules:       []string{"infra/modules/vpc", "infra/modules/vpc/sub"}},
		},
		{
			name: "unknown outputs at validation time",
			src:  "stack \"net\" {\n  path = \"infra/net\"\n  vars = { vpc = stack.network.outputs.vpc_id, env = \"x\" }\n  backend_config = { bucket = stack.network.outputs.b }\n}\n",
			want: &Spec{Path: "infra/net", Workspace: "default", AutoApply: true,
				Vars:    map[string]json.RawMessage{"vpc": json.RawMessage(`null`), "env": json.RawMessage(`"x"`)},
				Modules: []string{"infra/modules/vpc", "infra/modules/vpc/sub"}, Unknown: []string{"backend_config", "vars.vpc"}},
		},
		{name: "missing path", src: "stack \"net\" {\n  workspace = \"x\"\n}\n", wantErr: `Missing required argument`, errPos: "1:13"},
		{name: "path escaping", src: "stack \"net\" {\n  path = \"../etc\"\n}\n", wantErr: "escapes the repository", errPos: "2:10"},
		{name: "path absolute", src: "stack \"net\" {\n  path = \"/etc\"\n}\n", wantErr: "absolute", errPos: "2:10"},
		{name: "path missing", src: "stack \"net\" {\n  path = \"infra/none\"\n}\n", wantErr: "does not exist", errPos: "2:10"},
		{name: "path is a file", src: "stack \"net\" {\n  path = \"README.md\"\n}\n", wantErr: "a directory is expected", errPos: "2:10"},
		{name: "unknown attribute", src: "stack \"net\" {\n  path = \"infra/net\"\n  colour = \"red\"\n}\n", wantErr: "Unsupported argument", errPos: "3:3"},
		{name: "path wrong type", src: "stack \"net\" {\n  path = [\"infra/net\"]\n}\n", wantErr: "path must be a string", errPos: "2:10"},
		{name: "auto_apply wrong type", src: "stack \"net\" {\n  path = \"infra/net\"\n  auto_apply = \"maybe\"\n}\n", wantErr: "auto_apply must be a bool", errPos: "3:16"},
		{name: "vars not a map", src: "stack \"net\" {\n  path = \"infra/net\"\n  vars = \"x\"\n}\n", wantErr: "vars must be a map", errPos: "3:10"},
		{name: "backend_config not strings", src: "stack \"net\" {\n  path = \"infra/net\"\n  backend_config = { a = [1] }\n}\n", wantErr: "backend_config must be a map of strings", errPos: "3:20"},
		{name: "var file missing", src: "stack \"net\" {\n  path = \"infra/net\"\n  var_files = [\"infra/net/prod.tfvars\", \"infra/net/nope.tfvars\"]\n}\n", wantErr: "does not exist", errPos: "3:41"},
		{name: "var file is a dir", src: "stack \"net\" {\n  path = \"infra/net\"\n  var_files = [\"infra\"]\n}\n", wantErr: "a file is expected", errPos: "3:16"},
		{name: "path from unknown output", src: "stack \"net\" {\n  path = stack.network.outputs.dir\n}\n", wantErr: "must be known", errPos: "2:10"},
		{name: "bad workspace", src: "stack \"net\" {\n  path = \"infra/net\"\n  workspace = \"a/b\"\n}\n", wantErr: "Invalid workspace", errPos: "3:15"},
		{name: "module escaping repo", src: "stack \"net\" {\n  path = \"infra/bad\"\n}\n", wantErr: `module "evil" source "../../../outside"`, errPos: "2:12"},
		{name: "module missing", src: "stack \"net\" {\n  path = \"infra/missing\"\n}\n", wantErr: "does not exist", errPos: "2:12"},
		{name: "tf syntax error", src: "stack \"net\" {\n  path = \"infra/syntax\"\n}\n", wantErr: "Unclosed configuration block", errPos: "1:14"},
		{name: "unsupported block", src: "stack \"net\" {\n  path = \"infra/net\"\n  hooks {}\n}\n", wantErr: "Unsupported block type", errPos: "3:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, diags := decodeTestBlock(t, testTree(), tt.src)
			if tt.wantErr == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected diagnostics: %v", diags)
				}
				if !reflect.DeepEqual(spec, tt.want) {
					gj, _ := json.Marshal(spec)
					wj, _ := json.Marshal(tt.want)
					t.Fatalf("spec:\n got %s\nwant %s", gj, wj)
				}
				return
			}
			if !diags.HasErrors() {
				t.Fatalf("want error %q, got none (spec %+v)", tt.wantErr, spec)
			}
			var found bool
			for _, d := range diags {
				if strings.Contains(d.Summary+": "+d.Detail, tt.wantErr) {
					found = true
					if d.Subject == nil {
						t.Fatalf("diagnostic %q has no subject", d.Summary)
					}
					pos := d.Subject.Start
					if got := fmt.Sprintf("%d:%d", pos.Line, pos.Column); got != tt.errPos {
						t.Errorf("diagnostic %q at %s:%s, want %s", d.Summary, d.Subject.Filename, got, tt.errPos)
					}
				}
			}
			if !found {
				t.Fatalf("no diagnostic contains %q: %v", tt.wantErr, diags)
			}
		})
	}
}

func TestSpecJSONDeterministic(t *testing.T) {
	src := "stack \"net\" {\n  path = \"infra/net\"\n  vars = { b = 1, a = { z = 1, y = 2 }, c = \"x\" }\n  backend_config = { k = \"v\", a = \"b\" }\n}\n"
	var first string
	for i := 0; i < 20; i++ {
		spec, diags := decodeTestBlock(t, testTree(), src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		b, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = string(b)
			continue
		}
		if string(b) != first {
			t.Fatalf("spec JSON differs between decodes:\n%s\n%s", first, b)
		}
	}
	want := `{"path":"infra/net","workspace":"default","vars":{"a":{"y":2,"z":1},"b":1,"c":"x"},"backend_config":{"a":"b","k":"v"},"auto_apply":true,"modules":["infra/modules/vpc","infra/modules/vpc/sub"]}`
	if first != want {
		t.Errorf("spec JSON\n got %s\nwant %s", first, want)
	}
}

func TestInputs(t *testing.T) {
	spec, diags := decodeTestBlock(t, testTree(), "stack \"net\" {\n  path = \"infra/net\"\n  var_files = [\"infra/net/prod.tfvars\"]\n}\n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []string{"infra/net", "infra/net/prod.tfvars", "infra/modules/vpc", "infra/modules/vpc/sub"}
	if got := spec.Inputs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Inputs() = %v, want %v", got, want)
	}
}
