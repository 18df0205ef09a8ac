package ecs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }

// motoEnv resets the shared moto and returns clients for it, with a
// cluster "main" created.
func motoEnv(t testing.TB) (*ecs.Client, *cloudwatch.Client) {
	t.Helper()
	m := testenv.Moto(t)
	m.Reset(t)
	cfg := m.AWSConfig(t)
	ec, cw := ecs.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)
	if _, err := ec.CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String("main")}); err != nil {
		t.Fatalf("create cluster: %v", err)
	}
	return ec, cw
}

// motoApplier is an applier on moto that never sleeps for real.
func motoApplier(api API, cw AlarmAPI, sleepHook func()) *Applier {
	clk := newFakeClock()
	sleep := clk.Sleep
	if sleepHook != nil {
		sleep = func(ctx context.Context, d time.Duration) error { sleepHook(); return clk.Sleep(ctx, d) }
	}
	return New(api, cw, Options{Poll: time.Second, Clock: clk.Now, Sleep: sleep}, quiet)
}

// manifest decodes an ecs_service "web" block over a tree holding taskdef
// as services/web/taskdef.json.
func manifest(t testing.TB, taskdef, extra string) *Spec {
	t.Helper()
	tree := fstest.MapFS{"services/web/taskdef.json": {Data: []byte(taskdef)}}
	s, diags := decode(t, `
cluster         = "main"
task_definition = jsondecode(file("services/web/taskdef.json"))
`+extra, tree, nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags)
	}
	return s
}

func reconcile(t *testing.T, a *Applier, spec *Spec, obs appliers.Observer) (*appliers.Plan, error) {
	t.Helper()
	if obs == nil {
		obs = appliers.NopObserver{}
	}
	req := appliers.Request{Repo: "platform", App: "web", Revision: "abc", Spec: spec, Observer: obs}
	plan, err := a.Plan(t.Context(), req)
	if err != nil {
		return nil, err
	}
	_, err = a.Apply(t.Context(), req, plan)
	return plan, err
}

func liveService(t *testing.T, ec *ecs.Client, name string) types.Service {
	t.Helper()
	out, err := ec.DescribeServices(t.Context(), &ecs.DescribeServicesInput{Cluster: aws.String("main"), Services: []string{name}})
	if err != nil || len(out.Services) != 1 {
		t.Fatalf("describe %s: %v %+v", name, err, out)
	}
	return out.Services[0]
}

func TestMotoCreateUpdateNoop(t *testing.T) {
	ec, cw := motoEnv(t)
	api := newCounting(ec)

	// Create.
	spec := manifest(t, webTaskDef, "desired_count = 1\n")
	rec := &recorder{}
	plan, err := reconcile(t, motoApplier(api, cw, nil), spec, rec)
	if err != nil {
		t.Fatalf("create: %v (%s)", err, rec)
	}
	if !plan.Changed || len(plan.Changes) != 1 || plan.Changes[0] != (appliers.Change{Address: "ecs_service.web", Action: "create"}) ||
		!strings.Contains(plan.Summary, "create service web in cluster main") {
		t.Errorf("create plan: %+v", plan)
	}
	svc := liveService(t, ec, "web")
	if familyRevision(aws.ToString(svc.TaskDefinition)) != "web:1" || svc.DesiredCount != 1 || svc.DeploymentController.Type != types.DeploymentControllerTypeEcs {
		t.Errorf("created service: td=%s desired=%d", aws.ToString(svc.TaskDefinition), svc.DesiredCount)
	}

	// No-op: a fresh applier (no cache) plans no change; applying that
	// plan makes zero write calls.
	api.reset()
	a := motoApplier(api, cw, nil)
	plan, err = reconcile(t, a, manifest(t, webTaskDef, "desired_count = 1\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Changed || api.writes() != 0 {
		t.Errorf("second reconcile: plan %+v, calls %v", plan, api.calls)
	}

	// Update: a new image registers web:2 and moves the service to it.
	api.reset()
	spec = manifest(t, webTaskDef, "desired_count = 1\nimages = { web = \"nginx:1.27\" }\n")
	rec = &recorder{}
	plan, err = reconcile(t, a, spec, rec)
	if err != nil {
		t.Fatalf("update: %v (%s)", err, rec)
	}
	if !plan.Changed || plan.Summary != "task definition web: image nginx:1.25 → nginx:1.27" ||
		plan.Changes[0] != (appliers.Change{Address: "ecs_service.web.task_definition", Action: "update"}) {
		t.Errorf("update plan: %+v", plan)
	}
	if api.count("RegisterTaskDefinition") != 1 || api.count("UpdateService") != 1 || api.count("CreateService") != 0 {
		t.Errorf("update calls: %v", api.calls)
	}
	if got := familyRevision(aws.ToString(liveService(t, ec, "web").TaskDefinition)); got != "web:2" {
		t.Errorf("service runs %s, want web:2", got)
	}
	if !strings.Contains(strings.Join(rec.steps, "\n"), "registered task definition web:2") {
		t.Errorf("steps: %s", rec)
	}

	// And again: nothing to do.
	api.reset()
	if plan, err = reconcile(t, motoApplier(api, cw, nil), spec, nil); err != nil || plan.Changed || api.writes() != 0 {
		t.Errorf("third reconcile: %+v %v %v", plan, err, api.calls)
	}
}

// Task definitions that differ from the registered one only in what AWS
// fills in or reorders plan no change — including the JSON that
// `aws ecs describe-task-definition` prints.
func TestMotoNormalisation(t *testing.T) {
	ec, cw := motoEnv(t)
	if _, err := reconcile(t, motoApplier(ec, cw, nil), manifest(t, webTaskDef, ""), nil); err != nil {
		t.Fatal(err)
	}
	described, err := ec.DescribeTaskDefinition(t.Context(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
	if err != nil {
		t.Fatal(err)
	}
	for name, td := range map[string]string{
		"reordered with defaults": `{"family":"web","networkMode":"bridge","volumes":[],"placementConstraints":[],
		  "containerDefinitions":[{"essential":true,"cpu":0,"name":"web","memory":128,"image":"nginx:1.25","mountPoints":[],"volumesFrom":[],
		  "environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"portMappings":[{"protocol":"tcp","containerPort":80,"hostPort":0}]}]}`,
		"as described by moto": `{"taskDefinitionArn":"` + aws.ToString(described.TaskDefinition.TaskDefinitionArn) + `","revision":1,"status":"ACTIVE",
		  "compatibilities":["EC2"],"family":"web","networkMode":"bridge","volumes":[],"placementConstraints":[],
		  "containerDefinitions":[{"name":"web","image":"nginx:1.25","cpu":0,"memory":128,"portMappings":[{"containerPort":80}],"essential":true,
		  "environment":[{"name":"B","value":"2"},{"name":"A","value":"1"}],"mountPoints":[],"volumesFrom":[]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			api := newCounting(ec)
			plan, err := motoApplier(api, cw, nil).Plan(t.Context(), appliers.Request{App: "web", Spec: manifest(t, td, "")})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Changed {
				t.Errorf("planned %q", plan.Summary)
			}
		})
	}
	// A real change is still seen.
	changed := strings.Replace(webTaskDef, `"value": "1"`, `"value": "one"`, 1)
	plan, err := motoApplier(ec, cw, nil).Plan(t.Context(), appliers.Request{App: "web", Spec: manifest(t, changed, "")})
	if err != nil || !plan.Changed || plan.Summary != "task definition web: container web: environment changed" {
		t.Errorf("changed env: %+v %v", plan, err)
	}
}

// Without desired_count the service's desired count is never touched,
// however it was scaled outside.
func TestMotoDesiredCountUnset(t *testing.T) {
	ec, cw := motoEnv(t)
	if _, err := reconcile(t, motoApplier(ec, cw, nil), manifest(t, webTaskDef, ""), nil); err != nil {
		t.Fatal(err)
	}
	if got := liveService(t, ec, "web").DesiredCount; got != 1 {
		t.Fatalf("created with desired count %d, want 1 (the default for a new service)", got)
	}
	if _, err := ec.UpdateService(t.Context(), &ecs.UpdateServiceInput{Cluster: aws.String("main"), Service: aws.String("web"), DesiredCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	plan, err := reconcile(t, motoApplier(ec, cw, nil), manifest(t, webTaskDef, `images = { web = "nginx:1.27" }`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || strings.Contains(plan.Summary, "desired count") {
		t.Errorf("plan: %+v", plan)
	}
	svc := liveService(t, ec, "web")
	if svc.DesiredCount != 0 || familyRevision(aws.ToString(svc.TaskDefinition)) != "web:2" {
		t.Errorf("service: desired %d, td %s", svc.DesiredCount, aws.ToString(svc.TaskDefinition))
	}
}

func TestMotoMissingCluster(t *testing.T) {
	ec, cw := motoEnv(t)
	api := newCounting(ec)
	a := motoApplier(api, cw, nil)

	// Plan against a cluster that does not exist.
	spec := manifest(t, webTaskDef, "")
	spec.Cluster = "nope"
	_, err := a.Plan(t.Context(), appliers.Request{App: "web", Spec: spec})
	if err == nil || !strings.Contains(err.Error(), "cluster nope not found") || !appliers.IsStalled(err) {
		t.Errorf("plan: %v, want a Stalled 'cluster nope not found'", err)
	}

	// The cluster disappears between plan and apply of a create.
	spec.Cluster = "main"
	req := appliers.Request{App: "web", Spec: spec, Observer: appliers.NopObserver{}}
	plan, err := a.Plan(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.DeleteCluster(t.Context(), &ecs.DeleteClusterInput{Cluster: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	_, err = a.Apply(t.Context(), req, plan)
	if err == nil || err.Error() != "cluster main not found" || !appliers.IsStalled(err) {
		t.Errorf("apply: %v, want a Stalled 'cluster main not found'", err)
	}
	if api.writes() != 0 {
		t.Errorf("writes after a missing cluster: %v", api.calls)
	}
}

// An alarm set to ALARM (CloudWatch SetAlarmState) during the bake rolls
// the service back to its previous task definition.
func TestMotoBakeAlarmRollback(t *testing.T) {
	ec, cw := motoEnv(t)
	if _, err := reconcile(t, motoApplier(ec, cw, nil), manifest(t, webTaskDef, ""), nil); err != nil {
		t.Fatal(err)
	}
	_, err := cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("web-5xx"), MetricName: aws.String("HTTPCode_Target_5XX_Count"), Namespace: aws.String("AWS/ApplicationELB"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
	})
	if err != nil {
		t.Fatal(err)
	}
	setAlarm := func(state cwtypes.StateValue) {
		if _, err := cw.SetAlarmState(context.Background(), &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("web-5xx"), StateValue: state, StateReason: aws.String("test says " + string(state))}); err != nil {
			t.Errorf("set alarm state: %v", err)
		}
	}
	setAlarm(cwtypes.StateValueOk)

	// The alarm fires at the second poll of the bake.
	rec := &recorder{}
	var once sync.Once
	sleeps := 0
	hook := func() {
		rec.mu.Lock()
		baking := len(rec.steps) > 0 && strings.HasPrefix(rec.steps[len(rec.steps)-1], "baking")
		rec.mu.Unlock()
		if baking {
			sleeps++
			if sleeps == 2 {
				once.Do(func() { setAlarm(cwtypes.StateValueAlarm) })
			}
		}
	}
	spec := manifest(t, webTaskDef, `images = { web = "nginx:1.27" }
alarms = ["web-5xx"]
bake_time = "1m"`)
	_, err = reconcile(t, motoApplier(ec, cw, hook), spec, rec)
	if err == nil || !errors.Is(err, ErrRollout) || !strings.Contains(err.Error(), "alarm web-5xx is in ALARM during the bake: test says ALARM") ||
		!strings.Contains(err.Error(), "rolled back to web:1") {
		t.Fatalf("apply: %v (%s)", err, rec)
	}
	if len(rec.started) != 1 || len(rec.done) != 1 || rec.done[0] != nil {
		t.Errorf("rollback reports: %s", rec)
	}
	if got := familyRevision(aws.ToString(liveService(t, ec, "web").TaskDefinition)); got != "web:1" {
		t.Errorf("after rollback the service runs %s, want web:1", got)
	}

	// A misspelt alarm is a clear error at plan time.
	spec = manifest(t, webTaskDef, `images = { web = "nginx:1.28" }
alarms = ["web-5xxx"]`)
	if _, err := motoApplier(ec, cw, nil).Plan(t.Context(), appliers.Request{App: "web", Spec: spec}); err == nil || !strings.Contains(err.Error(), "alarm web-5xxx not found") {
		t.Errorf("plan with a missing alarm: %v", err)
	}
}

// PlanBatch describes services ten per call, across clusters, and reports
// missing services as creates.
func TestMotoPlanBatch(t *testing.T) {
	ec, cw := motoEnv(t)
	createServices(t, ec, "main", 23)
	if _, err := ec.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	var reqs []appliers.Request
	for i := range 25 { // 23 exist in main, 2 do not
		reqs = append(reqs, benchRequest(t, "main", i))
	}
	reqs = append(reqs, benchRequest(t, "other", 0), benchRequest(t, "gone", 0))
	api := newCounting(ec)
	plans, err := motoApplier(api, cw, nil).PlanBatch(t.Context(), reqs)
	var be *BatchError
	if !errors.As(err, &be) || be.Errs[26] == nil || !strings.Contains(be.Errs[26].Error(), "cluster gone not found") || !appliers.IsStalled(err) {
		t.Fatalf("PlanBatch error: %v", err)
	}
	for i, p := range plans[:26] {
		wantCreate := i >= 23
		if be.Errs[i] != nil || p == nil || p.Changed != wantCreate {
			t.Errorf("plan %d: %+v %v", i, p, be.Errs[i])
		}
	}
	// main: 3 calls (10+10+5), other: 1, gone: 1.
	if got := api.count("DescribeServices"); got != 5 {
		t.Errorf("DescribeServices calls = %d, want 5", got)
	}
}

// createServices registers a task definition per service and creates
// services svc-00 … in cluster.
func createServices(t testing.TB, ec *ecs.Client, cluster string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		in, err := parseTaskDef([]byte(benchTaskDef(i)))
		if err != nil {
			t.Fatal(err)
		}
		out, err := ec.RegisterTaskDefinition(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ec.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(fmt.Sprintf("svc-%02d", i)),
			TaskDefinition: out.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func benchTaskDef(i int) string {
	return fmt.Sprintf(`{"family":"svc-%02d","containerDefinitions":[{"name":"app","image":"nginx:1.25","memory":128,
	  "portMappings":[{"containerPort":80}],"environment":[{"name":"N","value":"%d"},{"name":"M","value":"x"}]}]}`, i, i)
}

func benchRequest(t testing.TB, cluster string, i int) appliers.Request {
	t.Helper()
	in, err := parseTaskDef([]byte(benchTaskDef(i)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := canonical(in)
	if err != nil {
		t.Fatal(err)
	}
	spec := &Spec{Cluster: cluster, Service: fmt.Sprintf("svc-%02d", i), TaskDefinition: c, WaitTimeout: DefaultWaitTimeout, RollbackOnFailure: true}
	return appliers.Request{Repo: "platform", App: spec.Service, Spec: spec, Observer: appliers.NopObserver{}}
}

// BenchmarkPlan50Services times a plan pass over 50 unchanged services in
// moto through PlanBatch and reports the AWS calls per pass: "cold" with a
// fresh applier (no task definition cache), "warm" with one applier kept
// across passes, as the controller does.
func BenchmarkPlan50Services(b *testing.B) {
	ec, cw := motoEnv(b)
	createServices(b, ec, "main", 50)
	var reqs []appliers.Request
	for i := range 50 {
		reqs = append(reqs, benchRequest(b, "main", i))
	}
	run := func(b *testing.B, fresh bool) {
		api := newCounting(ec)
		a := motoApplier(api, cw, nil)
		if _, err := a.PlanBatch(b.Context(), reqs); err != nil { // warm-up
			b.Fatal(err)
		}
		api.reset()
		passes := 0
		for b.Loop() {
			if fresh {
				a = motoApplier(api, cw, nil)
			}
			plans, err := a.PlanBatch(b.Context(), reqs)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range plans {
				if p.Changed {
					b.Fatalf("unchanged service planned %q", p.Summary)
				}
			}
			passes++
		}
		b.ReportMetric(float64(api.count("DescribeServices"))/float64(passes), "DescribeServices/pass")
		b.ReportMetric(float64(api.count("DescribeTaskDefinition"))/float64(passes), "DescribeTaskDefinition/pass")
	}
	b.Run("cold", func(b *testing.B) { run(b, true) })
	b.Run("warm", func(b *testing.B) { run(b, false) })
}
