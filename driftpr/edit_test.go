package driftpr

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

const appsHCL = `# Web tier.
ecs_service "web" {
  cluster         = "main"   # the shared cluster
  task_definition = jsondecode(file("services/web/taskdef.json"))
  images = {
    web     = "nginx:1.26" # pinned
    sidecar = var_image
  }
  desired_count = 1 // scaled by hand sometimes
}

lambda_function "thumb" {
  role        = "arn:aws:iam::123456789012:role/thumb"
  memory_size = 256
  timeout     = max(10, 20)
  environment = { LOG_LEVEL = "info", MODE = "a" }
}
`

// Only the drifted literals change; comments, alignment and the other
// block are kept byte for byte; expressions, missing keys and removed
// values are left to change by hand.
func TestEditBlock(t *testing.T) {
	e, err := EditBlock([]byte(appsHCL), "deploy/apps.hcl", "ecs_service", "web", []appliers.LiveValue{
		{Path: "desired_count", Attribute: "desired_count", Value: cty.NumberIntVal(4)},
		{Path: "task_definition.containers.web.image", Attribute: "images.web", Value: cty.StringVal("nginx:1.99")},
		{Path: "task_definition.containers.sidecar.image", Attribute: "images.sidecar", Value: cty.StringVal("envoy:2")},
		{Path: "task_definition.containers.new.image", Attribute: "images.new", Value: cty.StringVal("x:1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Web tier.
ecs_service "web" {
  cluster         = "main"   # the shared cluster
  task_definition = jsondecode(file("services/web/taskdef.json"))
  images = {
    web     = "nginx:1.99" # pinned
    sidecar = var_image
  }
  desired_count = 4 // scaled by hand sometimes
}

lambda_function "thumb" {
  role        = "arn:aws:iam::123456789012:role/thumb"
  memory_size = 256
  timeout     = max(10, 20)
  environment = { LOG_LEVEL = "info", MODE = "a" }
}
`
	if string(e.Src) != want {
		t.Errorf("edited file:\n%s\nwant:\n%s", e.Src, want)
	}
	wantChanges := []Change{
		{Path: "desired_count", Attribute: "desired_count", Desired: "1", Live: "4"},
		{Path: "task_definition.containers.web.image", Attribute: "images.web", Desired: `"nginx:1.26"`, Live: `"nginx:1.99"`},
	}
	if !reflect.DeepEqual(e.Changes, wantChanges) {
		t.Errorf("changes = %+v\nwant %+v", e.Changes, wantChanges)
	}
	wantHand := []ByHand{
		{Path: "task_definition.containers.sidecar.image", Attribute: "images.sidecar", Reason: ReasonExpression},
		{Path: "task_definition.containers.new.image", Attribute: "images.new", Reason: ReasonNoKey},
	}
	if !reflect.DeepEqual(e.ByHand, wantHand) {
		t.Errorf("by hand = %+v\nwant %+v", e.ByHand, wantHand)
	}

	e, err = EditBlock([]byte(appsHCL), "deploy/apps.hcl", "lambda_function", "thumb", []appliers.LiveValue{
		{Path: "configuration.memory_size", Attribute: "memory_size", Value: cty.NumberIntVal(1024)},
		{Path: "configuration.timeout", Attribute: "timeout", Value: cty.NumberIntVal(30)},
		{Path: "configuration.environment.LOG_LEVEL", Attribute: "environment.LOG_LEVEL", Value: cty.StringVal("de\"bug ${x}")},
		{Path: "configuration.environment.MODE", Attribute: "environment.MODE", Value: cty.NullVal(cty.String)},
		{Path: "configuration.role", Attribute: "role", Value: cty.StringVal("arn:aws:iam::123456789012:role/thumb")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantLambda := strings.NewReplacer("memory_size = 256", "memory_size = 1024",
		`LOG_LEVEL = "info"`, `LOG_LEVEL = "de\"bug $${x}"`).Replace(appsHCL)
	if string(e.Src) != wantLambda {
		t.Errorf("edited file:\n%s\nwant:\n%s", e.Src, wantLambda)
	}
	wantHand = []ByHand{
		{Path: "configuration.timeout", Attribute: "timeout", Reason: ReasonExpression},
		{Path: "configuration.environment.MODE", Attribute: "environment.MODE", Reason: ReasonRemoved},
	}
	if !reflect.DeepEqual(e.ByHand, wantHand) {
		t.Errorf("by hand = %+v\nwant %+v", e.ByHand, wantHand)
	}
	if len(e.Changes) != 2 {
		t.Errorf("changes = %+v (the unchanged role must not count)", e.Changes)
	}

	if _, err := EditBlock([]byte(appsHCL), "deploy/apps.hcl", "ecs_service", "api", nil); err == nil {
		t.Error("a missing block was not an error")
	}

	// Several drifted paths set by one attribute: one edit, a row each.
	src := "ecs_service \"api\" {\n  cluster         = \"main\"\n  task_definition = \"api:1\" # registered by CI\n}\n"
	e, err = EditBlock([]byte(src), "deploy/api.hcl", "ecs_service", "api", []appliers.LiveValue{
		{Path: "task_definition.cpu", Attribute: "task_definition", Value: cty.StringVal("api:4")},
		{Path: "task_definition.containers.api.image", Attribute: "task_definition", Value: cty.StringVal("api:4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(src, `"api:1"`, `"api:4"`, 1); string(e.Src) != want || len(e.Changes) != 2 || e.Changes[1].Path != "task_definition.containers.api.image" || e.Changes[1].Desired != `"api:1"` {
		t.Errorf("edited:\n%s\nchanges %+v", e.Src, e.Changes)
	}
}
