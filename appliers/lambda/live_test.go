package lambda

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// Live reads the configuration changed by hand and names the block
// attribute of each path; a removed variable is null; code and the alias
// are left out.
func TestMotoLive(t *testing.T) {
	e := newMotoEnv(t)
	e.write(map[string]string{"functions/thumb/index.js": "exports.handler = async () => 'v1'\n"})
	s := e.spec(fmt.Sprintf(zipBlock, `memory_size = 256
  environment = { LOG_LEVEL = "info", GONE = "x" }`))
	e.mustReconcile(s, nil)
	_, err := e.lambda.UpdateFunctionConfiguration(e.ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("thumb"),
		MemorySize:   aws.Int32(1024),
		Environment:  &types.Environment{Variables: map[string]string{"LOG_LEVEL": "debug"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.drift(s)
	wantDrift(t, r, "update", "configuration.environment.GONE", "configuration.environment.LOG_LEVEL", "configuration.memory_size")
	got, err := e.applier.Live(e.ctx, e.request(s, appliers.NopObserver{}), append(r.Items[0].Attributes, "code", "alias.live"))
	if err != nil {
		t.Fatalf("live: %v", err)
	}
	want := []appliers.LiveValue{
		{Path: "configuration.environment.GONE", Attribute: "environment.GONE", Value: cty.NullVal(cty.String)},
		{Path: "configuration.environment.LOG_LEVEL", Attribute: "environment.LOG_LEVEL", Value: cty.StringVal("debug")},
		{Path: "configuration.memory_size", Attribute: "memory_size", Value: cty.NumberIntVal(1024)},
	}
	if len(got) != len(want) {
		t.Fatalf("live = %#v\nwant %#v", got, want)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Attribute != want[i].Attribute || !got[i].Value.RawEquals(want[i].Value) {
			t.Errorf("live[%d] = %s %s %#v, want %s %s %#v", i, got[i].Path, got[i].Attribute, got[i].Value, want[i].Path, want[i].Attribute, want[i].Value)
		}
	}
}
