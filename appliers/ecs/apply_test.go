package ecs

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/appliers"
)

var quiet = slog.New(slog.DiscardHandler)

const arnPrefix = "arn:aws:ecs:us-east-1:123456789012:task-definition/"

// sim is a fake ECS with one service, for what moto cannot simulate: how
// a deployment progresses. behave shapes the service each time it is
// described, given the phase (0 before any update, 1 after the deploy's
// UpdateService, 2 after the rollback's) and how many times it was
// described in that phase.
type sim struct {
	mu      sync.Mutex
	svc     types.Service
	tds     map[string]*types.TaskDefinition
	rev     int32
	phase   int
	polls   int
	updates []*ecs.UpdateServiceInput
	behave  func(phase, polls int, s *types.Service)
	// updateErr, when set, fails UpdateService in that phase.
	updateErr map[int]error
}

func newSim(image string, desired int32) *sim {
	s := &sim{tds: map[string]*types.TaskDefinition{}}
	arn := s.register(&ecs.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("web"), Image: aws.String(image), Memory: aws.Int32(128)}}})
	s.svc = types.Service{ServiceName: aws.String("web"), Status: aws.String("ACTIVE"), DesiredCount: desired, RunningCount: desired, TaskDefinition: aws.String(arn),
		Deployments: []types.Deployment{{Id: aws.String("d0"), Status: aws.String("PRIMARY"), TaskDefinition: aws.String(arn), RolloutState: types.DeploymentRolloutStateCompleted}}}
	return s
}

func (s *sim) register(in *ecs.RegisterTaskDefinitionInput) string {
	s.rev++
	arn := fmt.Sprintf("%s%s:%d", arnPrefix, aws.ToString(in.Family), s.rev)
	cds := append([]types.ContainerDefinition(nil), in.ContainerDefinitions...)
	for i := range cds { // as AWS describes them
		if cds[i].Essential == nil {
			cds[i].Essential = aws.Bool(true)
		}
		cds[i].Environment = append([]types.KeyValuePair{}, cds[i].Environment...)
	}
	td := &types.TaskDefinition{TaskDefinitionArn: aws.String(arn), Family: in.Family, Revision: s.rev, ContainerDefinitions: cds, NetworkMode: types.NetworkModeBridge, Status: types.TaskDefinitionStatusActive}
	s.tds[arn] = td
	s.tds[aws.ToString(in.Family)] = td
	return arn
}

func (s *sim) api() *fakeAPI {
	return &fakeAPI{
		DescribeServicesFn: func(in *ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.polls++
			svc := s.svc
			svc.Deployments = append([]types.Deployment(nil), s.svc.Deployments...)
			if s.behave != nil {
				s.behave(s.phase, s.polls, &svc)
			}
			return &ecs.DescribeServicesOutput{Services: []types.Service{svc}}, nil
		},
		DescribeTaskDefinitionFn: func(in *ecs.DescribeTaskDefinitionInput) (*ecs.DescribeTaskDefinitionOutput, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			td, ok := s.tds[aws.ToString(in.TaskDefinition)]
			if !ok {
				return nil, &smithy.GenericAPIError{Code: "ClientException", Message: "Unable to describe task definition."}
			}
			return &ecs.DescribeTaskDefinitionOutput{TaskDefinition: td}, nil
		},
		RegisterTaskDefinitionFn: func(in *ecs.RegisterTaskDefinitionInput) (*ecs.RegisterTaskDefinitionOutput, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			arn := s.register(in)
			return &ecs.RegisterTaskDefinitionOutput{TaskDefinition: s.tds[arn]}, nil
		},
		UpdateServiceFn: func(in *ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.phase++
			s.polls = 0
			s.updates = append(s.updates, in)
			if err := s.updateErr[s.phase]; err != nil {
				return nil, err
			}
			if in.TaskDefinition != nil {
				s.svc.TaskDefinition = in.TaskDefinition
				s.svc.Deployments = []types.Deployment{{Id: aws.String(fmt.Sprint("d", s.phase)), Status: aws.String("PRIMARY"), TaskDefinition: in.TaskDefinition, RolloutState: types.DeploymentRolloutStateCompleted}}
			}
			if in.DesiredCount != nil {
				s.svc.DesiredCount, s.svc.RunningCount = *in.DesiredCount, *in.DesiredCount
			}
			return &ecs.UpdateServiceOutput{Service: &s.svc}, nil
		},
	}
}

// rolling makes a deployment phase look in progress (two deployments,
// fewer tasks running) for the first n polls.
func rolling(s *types.Service, n, polls int) {
	if polls <= n {
		s.Deployments = append(s.Deployments, types.Deployment{Id: aws.String("old"), Status: aws.String("ACTIVE"), RolloutState: types.DeploymentRolloutStateCompleted})
		s.Deployments[0].RolloutState = types.DeploymentRolloutStateInProgress
		s.RunningCount = s.DesiredCount - 1
	}
}

func webSpec(image string) *Spec {
	in, err := parseTaskDef([]byte(fmt.Sprintf(`{"family":"web","containerDefinitions":[{"name":"web","image":%q,"memory":128}]}`, image)))
	if err != nil {
		panic(err)
	}
	c, err := canonical(in)
	if err != nil {
		panic(err)
	}
	return &Spec{Cluster: "main", Service: "web", TaskDefinition: c, WaitTimeout: time.Minute, RollbackOnFailure: true}
}

// deploy plans and applies spec against api with a fake clock.
func deploy(t *testing.T, api API, alarms AlarmAPI, spec *Spec) (*appliers.Plan, *recorder, error) {
	t.Helper()
	clk := newFakeClock()
	a := New(api, alarms, Options{Poll: 5 * time.Second, Clock: clk.Now, Sleep: clk.Sleep}, quiet)
	rec := &recorder{}
	req := appliers.Request{Repo: "platform", App: "web", Spec: spec, Observer: rec}
	plan, err := a.Plan(t.Context(), req)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	_, err = a.Apply(t.Context(), req, plan)
	return plan, rec, err
}

func TestApplyRollout(t *testing.T) {
	prevARN := arnPrefix + "web:1"
	for _, tc := range []struct {
		name     string
		behave   func(phase, polls int, s *types.Service)
		alarmAt  int // DescribeAlarms call (1-based) that reports ALARM; 0: never
		noRoll   bool
		desired  *int32
		updErr   map[int]error
		wantErr  []string // substrings; empty: success
		rollback bool     // RollbackStarted expected
		rbErr    bool     // RollbackDone with an error expected
		updates  int      // UpdateService calls
	}{
		{name: "steady after 3 polls", behave: func(ph, n int, s *types.Service) {
			if ph == 1 {
				rolling(s, 3, n)
			}
		}, updates: 1},
		{name: "stuck until timeout, rolled back", behave: func(ph, n int, s *types.Service) {
			if ph == 1 {
				rolling(s, 1<<30, n)
			}
		}, wantErr: []string{"deployment failed", "not steady after 1m0s", "2 deployment(s), 0/1 running", "rolled back to web:1"}, rollback: true, updates: 2},
		{name: "circuit breaker FAILED, rolled back", behave: func(ph, n int, s *types.Service) {
			if ph == 1 {
				rolling(s, 1, n)
			}
			if ph == 1 && n >= 2 {
				s.Deployments[0].RolloutState = types.DeploymentRolloutStateFailed
				s.Deployments[0].RolloutStateReason = aws.String("tasks failed to start")
			}
		}, wantErr: []string{"deployment failed", "tasks failed to start", "rolled back to web:1"}, rollback: true, updates: 2},
		{name: "rollback update fails", behave: func(ph, n int, s *types.Service) {
			if ph == 1 {
				s.Deployments[0].RolloutState = types.DeploymentRolloutStateFailed
			}
		}, updErr: map[int]error{2: &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "nope"}},
			wantErr: []string{"deployment failed", "rollback to web:1 failed too", "nope"}, rollback: true, rbErr: true, updates: 2},
		{name: "rollback stuck too", behave: func(ph, n int, s *types.Service) {
			rolling(s, 1<<30, n)
		}, wantErr: []string{"not steady after 1m0s", "rollback to web:1 failed too"}, rollback: true, rbErr: true, updates: 2},
		{name: "rollback disabled", noRoll: true, behave: func(ph, n int, s *types.Service) {
			if ph == 1 {
				s.Deployments[0].RolloutState = types.DeploymentRolloutStateFailed
			}
		}, wantErr: []string{"deployment failed", "not rolled back: rollback_on_failure is false"}, updates: 1},
		{name: "alarm during bake, rolled back", alarmAt: 3, wantErr: []string{"alarm web-5xx is in ALARM during the bake", "rolled back to web:1"}, rollback: true, updates: 2},
		{name: "alarm quiet during bake", alarmAt: 0, updates: 1},
		{name: "desired count restored on rollback", desired: aws.Int32(4), behave: func(ph, n int, s *types.Service) {
			if ph == 1 {
				rolling(s, 1<<30, n)
			}
		}, wantErr: []string{"rolled back"}, rollback: true, updates: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim("nginx:1.25", 1)
			s.behave, s.updateErr = tc.behave, tc.updErr
			spec := webSpec("nginx:1.27")
			spec.RollbackOnFailure = !tc.noRoll
			spec.DesiredCount = tc.desired
			var alarms AlarmAPI
			alarmCalls := 0
			if tc.name == "alarm during bake, rolled back" || tc.name == "alarm quiet during bake" {
				spec.Alarms, spec.BakeTime = []string{"web-5xx"}, 2*time.Minute
				alarms = &fakeAlarms{DescribeAlarmsFn: func(in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
					alarmCalls++
					state := cwtypes.StateValueOk
					if tc.alarmAt > 0 && alarmCalls >= tc.alarmAt {
						state = cwtypes.StateValueAlarm
					}
					return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{{AlarmName: aws.String("web-5xx"), StateValue: state, StateReason: aws.String("threshold crossed")}}}, nil
				}}
			}
			plan, rec, err := deploy(t, s.api(), alarms, spec)
			if !plan.Changed || !strings.Contains(plan.Summary, "image nginx:1.25 → nginx:1.27") {
				t.Errorf("plan: %+v", plan)
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("apply: %v (%s)", err, rec)
			}
			for _, w := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not contain %q", err, w)
				}
			}
			if len(tc.wantErr) > 0 && (!errors.Is(err, ErrRollout) || !appliers.IsStalled(err)) {
				t.Errorf("error %v: want ErrRollout and Stalled", err)
			}
			if got := len(rec.started) > 0; got != tc.rollback {
				t.Errorf("rollback started = %v, want %v (%s)", got, tc.rollback, rec)
			}
			if tc.rollback && (rec.doneCalls != 1 || (rec.done[0] != nil) != tc.rbErr) {
				t.Errorf("rollback done: %s", rec)
			}
			if len(s.updates) != tc.updates {
				t.Fatalf("UpdateService calls = %d, want %d", len(s.updates), tc.updates)
			}
			deployed := s.updates[0]
			if aws.ToString(deployed.TaskDefinition) != arnPrefix+"web:2" || deployed.ForceNewDeployment {
				t.Errorf("deploy update: %+v", deployed)
			}
			if (deployed.DesiredCount != nil) != (tc.desired != nil) {
				t.Errorf("desired count touched: %v, set in spec: %v", deployed.DesiredCount, tc.desired)
			}
			if tc.rollback {
				back := s.updates[1]
				if aws.ToString(back.TaskDefinition) != prevARN {
					t.Errorf("rolled back to %v, want %s", aws.ToString(back.TaskDefinition), prevARN)
				}
				if tc.desired != nil && aws.ToInt32(back.DesiredCount) != 1 {
					t.Errorf("rollback desired count = %v, want 1", back.DesiredCount)
				}
			}
		})
	}
}

// A plan made over an unchanged service applies without any AWS call, and
// a second deploy of the same content reuses the registered revision.
// An empty RegisterTaskDefinition response is a transient failure, not a
// nil dereference that kills the daemon.
func TestApplyEmptyRegisterResponse(t *testing.T) {
	s := newSim("nginx:1.25", 1)
	api := s.api()
	api.RegisterTaskDefinitionFn = func(*ecs.RegisterTaskDefinitionInput) (*ecs.RegisterTaskDefinitionOutput, error) {
		return &ecs.RegisterTaskDefinitionOutput{}, nil
	}
	_, _, err := deploy(t, api, nil, webSpec("nginx:1.28"))
	if ok, _ := appliers.IsTransient(err); err == nil || !ok || !strings.Contains(err.Error(), "names no task definition") {
		t.Fatalf("apply with an empty register response: %v, want a transient error", err)
	}
}

func TestApplyUnchangedMakesNoCalls(t *testing.T) {
	s := newSim("nginx:1.25", 2)
	api := newCounting(s.api())
	plan, _, err := deploy(t, api, nil, webSpec("nginx:1.25"))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Changed || len(plan.Changes) != 0 {
		t.Errorf("unchanged service planned a change: %+v", plan)
	}
	if api.writes() != 0 || api.count("DescribeServices") != 1 {
		t.Errorf("calls: %v", api.calls)
	}
}

func TestPlanDesiredCount(t *testing.T) {
	s := newSim("nginx:1.25", 2)
	spec := webSpec("nginx:1.25")
	spec.DesiredCount = aws.Int32(3)
	a := New(s.api(), nil, Options{}, quiet)
	plan, err := a.Plan(t.Context(), appliers.Request{App: "web", Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Changed || plan.Summary != "desired count 2 → 3" || len(plan.Changes) != 1 || plan.Changes[0] != (appliers.Change{Address: "ecs_service.web.desired_count", Action: "update"}) {
		t.Errorf("plan: %+v", plan)
	}
	spec.DesiredCount = nil
	if plan, err = a.Plan(t.Context(), appliers.Request{App: "web", Spec: spec}); err != nil || plan.Changed {
		t.Errorf("desired_count unset planned %+v, %v", plan, err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code               string
		transient, stalled bool
	}{
		{"ThrottlingException", true, false},
		{"ServerException", true, false},
		{"ClientException", false, true},
		{"InvalidParameterException", false, true},
		{"SomethingElse", false, false},
	} {
		err := classify(&smithy.GenericAPIError{Code: tc.code}, "doing %s", "x")
		tr, _ := appliers.IsTransient(err)
		if tr != tc.transient || appliers.IsStalled(err) != tc.stalled {
			t.Errorf("%s: transient=%v stalled=%v", tc.code, tr, appliers.IsStalled(err))
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || !strings.HasPrefix(err.Error(), "doing x: ") {
			t.Errorf("%s: not wrapped: %v", tc.code, err)
		}
	}
}

func TestRolloutState(t *testing.T) {
	dep := func(rs types.DeploymentRolloutState) types.Deployment { return types.Deployment{RolloutState: rs} }
	for _, tc := range []struct {
		name           string
		svc            types.Service
		steady, failed bool
	}{
		{"one deployment, all running", types.Service{DesiredCount: 2, RunningCount: 2, Deployments: []types.Deployment{dep("")}}, true, false},
		{"completed", types.Service{DesiredCount: 2, RunningCount: 2, Deployments: []types.Deployment{dep(types.DeploymentRolloutStateCompleted)}}, true, false},
		{"in progress", types.Service{DesiredCount: 2, RunningCount: 2, Deployments: []types.Deployment{dep(types.DeploymentRolloutStateInProgress)}}, false, false},
		{"two deployments", types.Service{DesiredCount: 2, RunningCount: 2, Deployments: []types.Deployment{dep(""), dep("")}}, false, false},
		{"short of tasks", types.Service{DesiredCount: 2, RunningCount: 1, Deployments: []types.Deployment{dep("")}}, false, false},
		{"failed", types.Service{DesiredCount: 2, RunningCount: 2, Deployments: []types.Deployment{dep(types.DeploymentRolloutStateFailed)}}, false, true},
		{"scaled to zero", types.Service{Deployments: []types.Deployment{dep(types.DeploymentRolloutStateCompleted)}}, true, false},
	} {
		steady, failed, _ := rolloutState(&tc.svc)
		if steady != tc.steady || (failed != "") != tc.failed {
			t.Errorf("%s: steady=%v failed=%q", tc.name, steady, failed)
		}
	}
}
