package ecs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

// Live reads what runs after changes made by hand: the desired count, and
// the image of a container whose image the block overrides in images; a
// task definition field (environment) is left out, to change by hand.
func TestMotoLive(t *testing.T) {
	ec, cw := motoEnv(t)
	spec := manifest(t, webTaskDef, "desired_count = 1\nimages = { web = \"nginx:1.26\" }\n")
	a := motoApplier(ec, cw, nil)
	if _, err := reconcile(t, a, spec, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	handTD := strings.NewReplacer(`"nginx:1.25"`, `"nginx:1.99"`, `{"name": "A", "value": "1"}`, `{"name": "A", "value": "hunter2"}`).Replace(webTaskDef)
	in, err := parseTaskDef([]byte(handTD))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ec.RegisterTaskDefinition(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.UpdateService(t.Context(), &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"),
		TaskDefinition: reg.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	req := appliers.Request{Repo: "platform", App: "web", Revision: "abc", Spec: spec}
	r, err := a.Drift(t.Context(), req, nil)
	if err != nil || !r.Drifted() {
		t.Fatalf("drift = %+v, %v", r, err)
	}
	got, err := a.Live(t.Context(), req, r.Items[0].Attributes)
	if err != nil {
		t.Fatalf("live: %v", err)
	}
	want := []appliers.LiveValue{
		{Path: "desired_count", Attribute: "desired_count", Value: cty.NumberIntVal(4)},
		{Path: "task_definition.containers.web.image", Attribute: "images.web", Value: cty.StringVal("nginx:1.99")},
	}
	if len(got) != len(want) {
		t.Fatalf("live = %#v\nwant %#v (drift paths %v)", got, want, r.Items[0].Attributes)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Attribute != want[i].Attribute || !got[i].Value.RawEquals(want[i].Value) {
			t.Errorf("live[%d] = %s %s %#v, want %s %s %#v", i, got[i].Path, got[i].Attribute, got[i].Value, want[i].Path, want[i].Attribute, want[i].Value)
		}
	}
	if !reflect.DeepEqual(r.Items[0].Attributes, []string{"desired_count", "task_definition.containers.web.environment.A", "task_definition.containers.web.image"}) {
		t.Errorf("drift paths = %v", r.Items[0].Attributes)
	}

	// Without an images override, the image is the task definition file's: by hand.
	plain := manifest(t, webTaskDef, "desired_count = 1\n")
	got, err = a.Live(t.Context(), appliers.Request{App: "web", Spec: plain}, []string{"task_definition.containers.web.image"})
	if err != nil || len(got) != 0 {
		t.Errorf("live without images = %#v, %v; want nothing", got, err)
	}

	// A block naming a registered revision: every task definition path is
	// set by task_definition, to the revision the service runs.
	ref := &Spec{Cluster: "main", Service: "web", TaskDefinitionRef: "web:1", WaitTimeout: DefaultWaitTimeout}
	r, err = a.Drift(t.Context(), appliers.Request{App: "web", Spec: ref}, nil)
	if err != nil || !r.Drifted() {
		t.Fatalf("drift against web:1 = %+v, %v", r, err)
	}
	got, err = a.Live(t.Context(), appliers.Request{App: "web", Spec: ref}, r.Items[0].Attributes)
	if err != nil || len(got) != len(r.Items[0].Attributes) {
		t.Fatalf("live against web:1 = %#v, %v (paths %v)", got, err, r.Items[0].Attributes)
	}
	live := familyRevision(aws.ToString(reg.TaskDefinition.TaskDefinitionArn))
	for _, v := range got {
		if v.Attribute != "task_definition" || !v.Value.RawEquals(cty.StringVal(live)) || live == "web:1" {
			t.Errorf("live %s = %s %#v, want task_definition %q", v.Path, v.Attribute, v.Value, live)
		}
	}
}
