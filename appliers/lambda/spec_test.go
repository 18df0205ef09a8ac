package lambda

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

var testTree = fstest.MapFS{
	"functions/thumb/index.js": {Data: []byte("exports.handler = async () => 'ok'\n")},
	"README.md":                {Data: []byte("hi\n")},
}

// evalCtx has one applied stack (iam, with a known role output) and one not
// yet applied (net, whose outputs are unknown).
func evalCtx() *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"stack": cty.ObjectVal(map[string]cty.Value{
			"iam": cty.ObjectVal(map[string]cty.Value{"outputs": cty.ObjectVal(map[string]cty.Value{
				"role": cty.StringVal("arn:aws:iam::123456789012:role/from-stack"),
			})}),
			"net": cty.ObjectVal(map[string]cty.Value{"outputs": cty.DynamicVal}),
		}),
	}}
}

// decodeHCL parses src (one lambda_function block) and decodes it against testTree.
func decodeHCL(t *testing.T, src string) (*Spec, hcl.Diagnostics) {
	t.Helper()
	return decodeIn(t, testTree, src)
}

// decodeIn parses src (one lambda_function block) and decodes it against tree.
func decodeIn(t testing.TB, tree fs.FS, src string) (*Spec, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "app.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: Kind, LabelNames: []string{"name"}}}})
	if diags.HasErrors() || len(content.Blocks) != 1 {
		t.Fatalf("content: %v (%d blocks)", diags, len(content.Blocks))
	}
	b := content.Blocks[0]
	a := New(nil, nil, Options{}, nil)
	spec, diags := a.Decode(appliers.DecodeContext{Repo: "platform", App: b.Labels[0], Tree: tree, Eval: evalCtx(), Block: b.DefRange}, b.Body)
	s, ok := spec.(*Spec)
	if !ok {
		t.Fatalf("Decode returned %T", spec)
	}
	return s, diags
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Spec
	}{
		{
			name: "zip with defaults",
			src: `lambda_function "thumb" {
  role    = "arn:aws:iam::123456789012:role/r"
  zip_dir = "functions/thumb/"
  runtime = "nodejs20.x"
  handler = "index.handler"
}`,
			want: Spec{FunctionName: "thumb", Role: "arn:aws:iam::123456789012:role/r", ZipDir: "functions/thumb",
				Runtime: "nodejs20.x", Handler: "index.handler", MemorySize: 128, Timeout: 3, Alias: "live", StepInterval: time.Minute},
		},
		{
			name: "image with everything",
			src: `lambda_function "thumb" {
  function_name = "thumbnailer"
  role          = stack.iam.outputs.role
  image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/thumb:1.4.2"
  memory_size   = 512
  timeout       = 30
  environment   = { LOG_LEVEL = "info", MODE = "fast" }
  description   = "thumbs"
  architectures = ["arm64"]
  alias         = "prod"
  traffic_steps = [10, 50, 100]
  step_interval = "2m"
  alarms        = ["thumb-errors"]
}`,
			want: Spec{FunctionName: "thumbnailer", Role: "arn:aws:iam::123456789012:role/from-stack",
				ImageURI: "123456789012.dkr.ecr.us-east-1.amazonaws.com/thumb:1.4.2", MemorySize: 512, Timeout: 30,
				Environment: map[string]string{"LOG_LEVEL": "info", "MODE": "fast"}, Description: "thumbs",
				Architectures: []string{"arm64"}, Alias: "prod", TrafficSteps: []int{10, 50, 100},
				StepInterval: 2 * time.Minute, Alarms: []string{"thumb-errors"}},
		},
		{
			name: "s3 with version",
			src: `lambda_function "thumb" {
  role              = "r"
  s3_bucket         = "builds"
  s3_key            = "thumb/1.zip"
  s3_object_version = "v3"
  runtime           = "python3.12"
  handler           = "app.handler"
  environment       = {}
}`,
			want: Spec{FunctionName: "thumb", Role: "r", S3Bucket: "builds", S3Key: "thumb/1.zip", S3ObjectVersion: "v3",
				Runtime: "python3.12", Handler: "app.handler", MemorySize: 128, Timeout: 3, Alias: "live", StepInterval: time.Minute},
		},
		{
			name: "unknown role is tolerated and recorded",
			src: `lambda_function "thumb" {
  role      = stack.net.outputs.role
  image_uri = "repo/thumb:1"
}`,
			want: Spec{FunctionName: "thumb", ImageURI: "repo/thumb:1", MemorySize: 128, Timeout: 3, Alias: "live",
				StepInterval: time.Minute, Unknown: []string{"role"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, diags := decodeHCL(t, tt.src)
			if diags.HasErrors() {
				t.Fatalf("unexpected diagnostics: %v", diags)
			}
			if !reflect.DeepEqual(*s, tt.want) {
				t.Errorf("spec:\n got %+v\nwant %+v", *s, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = "lambda_function \"thumb\" {\n  role = \"r\"\n"
	tests := []struct {
		name     string
		src      string
		summary  string // of the first error
		line     int    // where it points (1-based)
		col      int
		severity hcl.DiagnosticSeverity
	}{
		{"two code sources", head + "  image_uri = \"x:1\"\n  zip_dir = \"functions/thumb\"\n  runtime = \"nodejs20.x\"\n}",
			"Conflicting code sources", 4, 3, hcl.DiagError},
		{"no code source", head + "}", "Missing code source", 1, 1, hcl.DiagError},
		{"missing handler for zip", head + "  zip_dir = \"functions/thumb\"\n  runtime = \"nodejs20.x\"\n}",
			"Missing handler", 1, 1, hcl.DiagError},
		{"missing runtime for s3", head + "  s3_bucket = \"b\"\n  s3_key = \"k\"\n  handler = \"h\"\n}",
			"Missing runtime", 1, 1, hcl.DiagError},
		{"handler with image", head + "  image_uri = \"x:1\"\n  handler = \"h\"\n}", "Unsupported argument", 4, 3, hcl.DiagError},
		{"s3_key without bucket", head + "  s3_key = \"k\"\n  runtime = \"r\"\n  handler = \"h\"\n}", "Missing s3_bucket", 3, 3, hcl.DiagError},
		{"s3_bucket without key", head + "  s3_bucket = \"b\"\n  runtime = \"r\"\n  handler = \"h\"\n}", "Missing s3_key", 3, 3, hcl.DiagError},
		{"missing role", "lambda_function \"thumb\" {\n  image_uri = \"x:1\"\n}", "Missing role", 1, 1, hcl.DiagError},
		{"unknown attribute", head + "  image_uri = \"x:1\"\n  memory = 512\n}", "Unsupported argument", 4, 3, hcl.DiagError},
		{"zip_dir missing", head + "  zip_dir = \"functions/nope\"\n  runtime = \"r\"\n  handler = \"h\"\n}", "Missing path", 3, 13, hcl.DiagError},
		{"zip_dir is a file", head + "  zip_dir = \"README.md\"\n  runtime = \"r\"\n  handler = \"h\"\n}", "Not a directory", 3, 13, hcl.DiagError},
		{"zip_dir escapes", head + "  zip_dir = \"../x\"\n  runtime = \"r\"\n  handler = \"h\"\n}", "Invalid path", 3, 13, hcl.DiagError},
		{"steps not increasing", head + "  image_uri = \"x:1\"\n  traffic_steps = [10, 50, 50, 100]\n}", "Invalid traffic_steps", 4, 28, hcl.DiagError},
		{"steps not ending at 100", head + "  image_uri = \"x:1\"\n  traffic_steps = [10, 50]\n}", "Invalid traffic_steps", 4, 24, hcl.DiagError},
		{"step out of range", head + "  image_uri = \"x:1\"\n  traffic_steps = [0, 100]\n}", "Invalid traffic_steps", 4, 20, hcl.DiagError},
		{"step fractional", head + "  image_uri = \"x:1\"\n  traffic_steps = [12.5, 100]\n}", "Invalid traffic_steps", 4, 20, hcl.DiagError},
		{"steps empty", head + "  image_uri = \"x:1\"\n  traffic_steps = []\n}", "Invalid traffic_steps", 4, 19, hcl.DiagError},
		{"steps not numbers", head + "  image_uri = \"x:1\"\n  traffic_steps = \"10\"\n}", "Invalid value", 4, 19, hcl.DiagError},
		{"bad step_interval", head + "  image_uri = \"x:1\"\n  step_interval = \"soon\"\n}", "Invalid step_interval", 4, 19, hcl.DiagError},
		{"memory too small", head + "  image_uri = \"x:1\"\n  memory_size = 64\n}", "Invalid value", 4, 17, hcl.DiagError},
		{"bad env name", head + "  image_uri = \"x:1\"\n  environment = { \"1X\" = \"a\" }\n}", "Invalid environment", 4, 17, hcl.DiagError},
		{"bad function name", head + "  image_uri = \"x:1\"\n  function_name = \"a b\"\n}", "Invalid function name", 4, 19, hcl.DiagError},
		{"numeric alias", head + "  image_uri = \"x:1\"\n  alias = \"7\"\n}", "Invalid alias", 4, 11, hcl.DiagError},
		{"bad architecture", head + "  image_uri = \"x:1\"\n  architectures = [\"mips\"]\n}", "Invalid architectures", 4, 19, hcl.DiagError},
		{"alarms without steps warn", head + "  image_uri = \"x:1\"\n  alarms = [\"a\"]\n}", "Alarms without traffic_steps", 4, 12, hcl.DiagWarning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeHCL(t, tt.src)
			if len(diags) == 0 {
				t.Fatal("no diagnostics")
			}
			d := diags[0]
			if tt.severity == hcl.DiagError && !diags.HasErrors() {
				t.Fatalf("no error, got %v", diags)
			}
			if tt.severity == hcl.DiagWarning && diags.HasErrors() {
				t.Fatalf("want only a warning, got %v", diags)
			}
			if d.Summary != tt.summary {
				t.Errorf("summary = %q (%s), want %q", d.Summary, d.Detail, tt.summary)
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no position", d.Summary)
			}
			if d.Subject.Filename != "app.hcl" || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("position = %s:%d:%d, want app.hcl:%d:%d (%s: %s)", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col, d.Summary, d.Detail)
			}
		})
	}
}

func TestSpecJSONDeterministic(t *testing.T) {
	src := `lambda_function "thumb" {
  role        = "r"
  image_uri   = "x:1"
  environment = { Z = "1", A = "2", M = "3" }
}`
	s1, _ := decodeHCL(t, src)
	b1, err := json.Marshal(s1)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		s2, _ := decodeHCL(t, src)
		b2, _ := json.Marshal(s2)
		if string(b1) != string(b2) {
			t.Fatalf("JSON differs:\n%s\n%s", b1, b2)
		}
	}
	want := `{"function_name":"thumb","role":"r","image_uri":"x:1","memory_size":128,"timeout":3,"environment":{"A":"2","M":"3","Z":"1"},"alias":"live","step_interval":60000000000}`
	if string(b1) != want {
		t.Errorf("JSON = %s\nwant   %s", b1, want)
	}
	if got := s1.Inputs(); got != nil {
		t.Errorf("Inputs of an image spec = %v, want none", got)
	}
	z := &Spec{ZipDir: "functions/thumb"}
	if got := z.Inputs(); !reflect.DeepEqual(got, []string{"functions/thumb"}) {
		t.Errorf("Inputs = %v", got)
	}
}

func TestDecodeNoErrorsForUnknownSources(t *testing.T) {
	s, diags := decodeHCL(t, `lambda_function "thumb" {
  role      = "r"
  image_uri = stack.net.outputs.image
}`)
	if diags.HasErrors() {
		t.Fatalf("diagnostics: %v", diags)
	}
	if strings.Join(s.Unknown, ",") != "image_uri" {
		t.Errorf("Unknown = %v", s.Unknown)
	}
}
