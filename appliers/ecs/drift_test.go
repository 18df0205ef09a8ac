package ecs

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/driftless/driftless/appliers"
)

// driftJSON runs Drift and returns the report and its JSON.
func driftJSON(t *testing.T, a *Applier, spec *Spec, ignore ...string) (*appliers.DriftReport, string) {
	t.Helper()
	r, err := a.Drift(t.Context(), appliers.Request{Repo: "platform", App: "web", Revision: "abc", Spec: spec}, ignore)
	if err != nil {
		t.Fatalf("drift: %v", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(b)
}

func wantItems(t *testing.T, r *appliers.DriftReport, want ...appliers.DriftItem) {
	t.Helper()
	if want == nil {
		want = []appliers.DriftItem{}
	}
	if !reflect.DeepEqual(r.Items, want) {
		t.Errorf("drift items = %+v\nwant %+v", r.Items, want)
	}
}

// Out-of-band changes through the ECS API — another task definition
// revision, registered by hand, and a new desired count — are reported
// with attribute paths naming environment variables but never their
// values; ignored paths are left out; Drift never writes.
func TestMotoDrift(t *testing.T) {
	ec, cw := motoEnv(t)
	spec := manifest(t, webTaskDef, "desired_count = 1\n")
	if _, err := reconcile(t, motoApplier(ec, cw, nil), spec, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	api := newCounting(ec)
	a := motoApplier(api, cw, nil)

	// Clean after the deploy.
	r, _ := driftJSON(t, a, spec)
	wantItems(t, r)
	if r.Drifted() {
		t.Errorf("clean service reported as drifted")
	}

	// By hand: web:2 with another image, a changed and an added variable
	// (values that must never show), and the service scaled to 3.
	handTD := strings.NewReplacer(`"nginx:1.25"`, `"nginx:1.99"`, `{"name": "A", "value": "1"}`, `{"name": "A", "value": "hunter2-secret"}, {"name": "C", "value": "leaked-value"}`).Replace(webTaskDef)
	in, err := parseTaskDef([]byte(handTD))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ec.RegisterTaskDefinition(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.UpdateService(t.Context(), &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"),
		TaskDefinition: reg.TaskDefinition.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.UpdateService(t.Context(), &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}

	api.reset()
	r, first := driftJSON(t, a, spec)
	wantItems(t, r, appliers.DriftItem{Address: "ecs_service.web", Action: "update", Attributes: []string{
		"desired_count",
		"task_definition.containers.web.environment.A",
		"task_definition.containers.web.environment.C",
		"task_definition.containers.web.image",
	}})
	for _, secret := range []string{"hunter2", "leaked-value", "nginx:1.99"} {
		if strings.Contains(first, secret) {
			t.Errorf("report shows a value (%q): %s", secret, first)
		}
	}
	// The same drift gives the same bytes, from this applier (cached task
	// definitions) and from a fresh one.
	if _, again := driftJSON(t, a, spec); again != first {
		t.Errorf("second check differs:\n%s\n%s", first, again)
	}
	if _, fresh := driftJSON(t, motoApplier(api, cw, nil), spec); fresh != first {
		t.Errorf("fresh applier's check differs:\n%s\n%s", first, fresh)
	}
	// The planner agrees on what drifted.
	plan, err := a.Plan(t.Context(), appliers.Request{App: "web", Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if got := changeAddrs(plan); got != "ecs_service.web.task_definition ecs_service.web.desired_count" {
		t.Errorf("plan changes %s", got)
	}

	for _, tc := range []struct {
		ignore []string
		want   []string // nil: no item
	}{
		{[]string{"desired_count", "environment"}, []string{"task_definition.containers.web.image"}},
		{[]string{"image", "environment.A"}, []string{"desired_count", "task_definition.containers.web.environment.C"}},
		{[]string{"task_definition.containers.*.image", "task_definition.containers.web.environment"}, []string{"desired_count"}},
		{[]string{"task_definition", "desired_count"}, nil},
	} {
		r, _ := driftJSON(t, a, spec, tc.ignore...)
		if tc.want == nil {
			if r.Drifted() {
				t.Errorf("ignore %q: %+v, want no drift", tc.ignore, r.Items)
			}
			continue
		}
		if len(r.Items) != 1 || !reflect.DeepEqual(r.Items[0].Attributes, tc.want) {
			t.Errorf("ignore %q: %+v, want attributes %q", tc.ignore, r.Items, tc.want)
		}
	}

	// A block naming a registered revision: the service runs web:2, the
	// block says web:1 — their content differs, so the paths say how.
	ref := &Spec{Cluster: "main", Service: "web", TaskDefinitionRef: "web:1", WaitTimeout: DefaultWaitTimeout}
	r, _ = driftJSON(t, a, ref)
	wantItems(t, r, appliers.DriftItem{Address: "ecs_service.web", Action: "update", Attributes: []string{
		"task_definition.containers.web.environment.A",
		"task_definition.containers.web.environment.C",
		"task_definition.containers.web.image",
	}})
	// Naming web:2's twin (another revision, same content) is still drift:
	// the planner would move the service to it.
	if _, err := ec.RegisterTaskDefinition(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	ref.TaskDefinitionRef = "web:3"
	r, _ = driftJSON(t, a, ref)
	wantItems(t, r, appliers.DriftItem{Address: "ecs_service.web", Action: "update", Attributes: []string{"task_definition"}})

	if api.writes() != 0 {
		t.Errorf("drift checks made write calls: %v", api.calls)
	}

	// Deleted outside: re-applying would create it, whatever is ignored.
	if _, err := ec.DeleteService(t.Context(), &ecs.DeleteServiceInput{Cluster: aws.String("main"), Service: aws.String("web"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	r, _ = driftJSON(t, a, spec, "task_definition", "desired_count")
	wantItems(t, r, appliers.DriftItem{Address: "ecs_service.web", Action: "create"})
	if api.writes() != 0 {
		t.Errorf("drift checks made write calls: %v", api.calls)
	}
}

// Without desired_count autoscaling owns the count: scaling the service
// outside is not drift. With desired_count, it is.
func TestMotoDriftDesiredCountUnset(t *testing.T) {
	ec, cw := motoEnv(t)
	unset := manifest(t, webTaskDef, "")
	if _, err := reconcile(t, motoApplier(ec, cw, nil), unset, nil); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if _, err := ec.UpdateService(t.Context(), &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"), DesiredCount: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	a := motoApplier(ec, cw, nil)
	r, _ := driftJSON(t, a, unset)
	wantItems(t, r)
	r, _ = driftJSON(t, a, manifest(t, webTaskDef, "desired_count = 1\n"))
	wantItems(t, r, appliers.DriftItem{Address: "ecs_service.web", Action: "update", Attributes: []string{"desired_count"}})
}

func TestDriftErrors(t *testing.T) {
	a := New(&fakeAPI{}, nil, Options{}, quiet)
	if _, err := a.Drift(t.Context(), appliers.Request{App: "web", Spec: &Spec{Cluster: "main", Unknown: []string{"cluster"}}}, nil); !appliers.IsStalled(err) {
		t.Errorf("spec with unknowns: %v, want Stalled", err)
	}
	if _, err := a.Drift(t.Context(), appliers.Request{App: "web"}, nil); err == nil {
		t.Errorf("no spec: no error")
	}
}

func changeAddrs(p *appliers.Plan) string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Address)
	}
	return strings.Join(out, " ")
}

// taskDefPaths on canonical task definitions: the attribute paths name
// what differs, never a value.
func TestTaskDefPaths(t *testing.T) {
	base := `{"family":"web","cpu":"256","containerDefinitions":[` +
		`{"name":"web","image":"nginx:1","memory":128,"environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"secrets":[{"name":"DB","valueFrom":"arn:db"}]},` +
		`{"name":"side","image":"envoy:1"}]}`
	for _, tc := range []struct {
		name, live string
		want       []string
	}{
		{"same content (another revision)", base, []string{"task_definition"}},
		{"equivalent after normalisation", strings.Replace(base, `"cpu":"256"`, `"cpu":"0.25 vcpu","networkMode":"bridge"`, 1), []string{"task_definition"}},
		{"image", strings.Replace(base, "nginx:1", "nginx:2", 1), []string{"task_definition.containers.web.image"}},
		{"env changed, added, removed", strings.Replace(base, `{"name":"A","value":"1"},{"name":"B","value":"2"}`, `{"name":"A","value":"x"},{"name":"Z","value":"2"}`, 1),
			[]string{"task_definition.containers.web.environment.A", "task_definition.containers.web.environment.B", "task_definition.containers.web.environment.Z"}},
		{"secret", strings.Replace(base, "arn:db", "arn:other", 1), []string{"task_definition.containers.web.secrets.DB"}},
		{"container field", strings.Replace(base, `"memory":128`, `"memory":256`, 1), []string{"task_definition.containers.web.memory"}},
		{"task field", strings.Replace(base, `"cpu":"256"`, `"cpu":"512"`, 1), []string{"task_definition.cpu"}},
		{"container removed outside", strings.Replace(base, `,{"name":"side","image":"envoy:1"}`, ``, 1), []string{"task_definition.containers.side"}},
		{"container added outside", strings.Replace(base, `{"name":"side"`, `{"name":"extra","image":"x"},{"name":"side"`, 1), []string{"task_definition.containers.extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := taskDefPaths([]byte(canon(t, tc.live)), []byte(canon(t, base)))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("paths = %q, want %q", got, tc.want)
			}
			for _, p := range got {
				if strings.ContainsAny(p, ":") {
					t.Errorf("path %q shows a value", p)
				}
			}
		})
	}
}
