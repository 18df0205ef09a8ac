package lambda

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/appliers"
)

// fakeAPI is a unit-test Lambda built from function fields; calling a
// method whose field is nil panics through the nil embedded API.
type fakeAPI struct {
	API
	getConfig   func(*lambda.GetFunctionConfigurationInput) (*lambda.GetFunctionConfigurationOutput, error)
	getAlias    func(*lambda.GetAliasInput) (*lambda.GetAliasOutput, error)
	updateAlias func(*lambda.UpdateAliasInput) (*lambda.UpdateAliasOutput, error)
}

func (f *fakeAPI) GetFunctionConfiguration(_ context.Context, in *lambda.GetFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	return f.getConfig(in)
}
func (f *fakeAPI) GetAlias(_ context.Context, in *lambda.GetAliasInput, _ ...func(*lambda.Options)) (*lambda.GetAliasOutput, error) {
	return f.getAlias(in)
}
func (f *fakeAPI) UpdateAlias(ctx context.Context, in *lambda.UpdateAliasInput, _ ...func(*lambda.Options)) (*lambda.UpdateAliasOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.updateAlias(in)
}

type fakeAlarms func(ctx context.Context, in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error)

func (f fakeAlarms) DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return f(ctx, in)
}

func alarmsIn(state cwtypes.StateValue, names ...string) *cloudwatch.DescribeAlarmsOutput {
	out := &cloudwatch.DescribeAlarmsOutput{}
	for _, n := range names {
		out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: aws.String(n), StateValue: state})
	}
	return out
}

func newFakeApplier(api API, alarms AlarmAPI) *Applier {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(api, alarms, Options{Poll: 10 * time.Second, UpdateTimeout: time.Minute, Clock: clock.Now, Sleep: clock.Sleep}, nil)
}

func TestWaitReady(t *testing.T) {
	type st = fnStatus
	tests := []struct {
		name    string
		initial st
		polls   []st // what GetFunctionConfiguration answers, in turn
		want    string
		stalled bool
		trans   bool
		calls   int
	}{
		{name: "ready at once", initial: st{state: types.StateActive, last: types.LastUpdateStatusSuccessful}},
		{name: "fields absent on create", initial: st{}},
		{name: "pending then active", initial: st{state: types.StatePending},
			polls: []st{{state: types.StatePending}, {state: types.StateActive, last: types.LastUpdateStatusSuccessful}}, calls: 2},
		{name: "in progress then successful", initial: st{state: types.StateActive, last: types.LastUpdateStatusInProgress},
			polls: []st{{state: types.StateActive, last: types.LastUpdateStatusSuccessful}}, calls: 1},
		{name: "update failed", initial: st{state: types.StateActive, last: types.LastUpdateStatusInProgress},
			polls: []st{{state: types.StateActive, last: types.LastUpdateStatusFailed, lastReason: "EniLimitExceeded: too many ENIs"}},
			want:  "EniLimitExceeded: too many ENIs", stalled: true, calls: 1},
		{name: "function failed", initial: st{state: types.StateFailed, stateReason: "image not found"},
			want: "image not found", stalled: true},
		{name: "never finishes", initial: st{state: types.StatePending},
			polls: []st{{state: types.StatePending}, {state: types.StatePending}, {state: types.StatePending}, {state: types.StatePending}, {state: types.StatePending}, {state: types.StatePending}, {state: types.StatePending}},
			want:  "still Pending", trans: true, calls: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			api := &fakeAPI{getConfig: func(in *lambda.GetFunctionConfigurationInput) (*lambda.GetFunctionConfigurationOutput, error) {
				if aws.ToString(in.Qualifier) != "7" {
					t.Errorf("qualifier %q, want 7", aws.ToString(in.Qualifier))
				}
				p := tt.polls[calls]
				calls++
				return &lambda.GetFunctionConfigurationOutput{State: p.state, LastUpdateStatus: p.last, LastUpdateStatusReason: aws.String(p.lastReason), StateReason: aws.String(p.stateReason)}, nil
			}}
			err := newFakeApplier(api, nil).waitReady(context.Background(), "thumb", "7", tt.initial)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if appliers.IsStalled(err) != tt.stalled {
				t.Errorf("stalled = %v, want %v (%v)", appliers.IsStalled(err), tt.stalled, err)
			}
			if tr, _ := appliers.IsTransient(err); tr != tt.trans {
				t.Errorf("transient = %v, want %v (%v)", tr, tt.trans, err)
			}
			if calls != tt.calls {
				t.Errorf("%d polls, want %d", calls, tt.calls)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		stalled bool
		trans   bool
		after   time.Duration
	}{
		{"too many requests with retry-after", &types.TooManyRequestsException{Message: aws.String("slow down"), RetryAfterSeconds: aws.String("7")}, false, true, 7 * time.Second},
		{"too many requests", &types.TooManyRequestsException{}, false, true, 5 * time.Second},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, false, true, 5 * time.Second},
		{"update in progress", &types.ResourceConflictException{Message: aws.String("An update is in progress")}, false, true, 5 * time.Second},
		{"invalid parameter", &types.InvalidParameterValueException{Message: aws.String("bad runtime")}, true, false, 0},
		{"missing function", &types.ResourceNotFoundException{}, true, false, 0},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, true, false, 0},
		{"network", errors.New("connection refused"), false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrap(tt.err, "lambda_function %s: update", "thumb")
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap the cause", err)
			}
			if !strings.HasPrefix(err.Error(), "lambda_function thumb: update: ") {
				t.Errorf("message %q", err)
			}
			if appliers.IsStalled(err) != tt.stalled {
				t.Errorf("stalled = %v, want %v", appliers.IsStalled(err), tt.stalled)
			}
			tr, after := appliers.IsTransient(err)
			if tr != tt.trans || after != tt.after {
				t.Errorf("transient = %v %v, want %v %v", tr, after, tt.trans, tt.after)
			}
		})
	}
}

// aliasFake is a fake alias on version 1 that records updates.
type aliasFake struct {
	mu      sync.Mutex
	version string
	weights map[string]float64
	updates []string
}

func (f *aliasFake) api() *fakeAPI {
	return &fakeAPI{
		getAlias: func(*lambda.GetAliasInput) (*lambda.GetAliasOutput, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return &lambda.GetAliasOutput{FunctionVersion: aws.String(f.version)}, nil
		},
		updateAlias: func(in *lambda.UpdateAliasInput) (*lambda.UpdateAliasOutput, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.version = aws.ToString(in.FunctionVersion)
			if in.RoutingConfig != nil {
				f.weights = in.RoutingConfig.AdditionalVersionWeights
			}
			f.updates = append(f.updates, fmt.Sprintf("%s %v", f.version, f.weights))
			return &lambda.UpdateAliasOutput{}, nil
		},
	}
}

var canarySpec = &Spec{FunctionName: "thumb", Alias: "live", TrafficSteps: []int{10, 50, 100}, StepInterval: time.Minute, Alarms: []string{"thumb-errors"}}

func TestCanaryInterruptedRollsBack(t *testing.T) {
	f := &aliasFake{version: "1"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	alarms := fakeAlarms(func(ctx context.Context, in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
		calls++
		if calls == 3 { // shutdown during the first step
			cancel()
			return nil, ctx.Err()
		}
		return alarmsIn(cwtypes.StateValueOk, "thumb-errors"), nil
	})
	rec := &recorder{}
	a := newFakeApplier(f.api(), alarms)
	err := a.moveAlias(ctx, appliers.Request{App: "thumb"}, canarySpec, "2", rec, a.log)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err = %v, want context.Canceled and ErrRolledBack", err)
	}
	if got := strings.Join(f.updates, "; "); got != "1 map[2:0.1]; 1 map[]" {
		t.Errorf("alias updates %q", got)
	}
	if len(rec.started) != 1 || !strings.Contains(rec.started[0], "interrupted") || len(rec.done) != 1 || rec.done[0] != nil {
		t.Errorf("rollback reports %q %v", rec.started, rec.done)
	}
}

func TestCanaryAlarmReads(t *testing.T) {
	tests := []struct {
		name     string
		answers  func(call int) (*cloudwatch.DescribeAlarmsOutput, error)
		updates  string
		rollback string
	}{
		{
			name: "all OK",
			answers: func(int) (*cloudwatch.DescribeAlarmsOutput, error) {
				return alarmsIn(cwtypes.StateValueOk, "thumb-errors"), nil
			},
			updates: "1 map[2:0.1]; 1 map[2:0.5]; 2 map[]",
		},
		{
			name: "one failed read is retried",
			answers: func(call int) (*cloudwatch.DescribeAlarmsOutput, error) {
				if call == 2 {
					return nil, &smithy.GenericAPIError{Code: "Throttling"}
				}
				return alarmsIn(cwtypes.StateValueOk, "thumb-errors"), nil
			},
			updates: "1 map[2:0.1]; 1 map[2:0.5]; 2 map[]",
		},
		{
			name:     "unreadable for a whole step",
			answers:  func(int) (*cloudwatch.DescribeAlarmsOutput, error) { return nil, errors.New("connection refused") },
			updates:  "1 map[2:0.1]; 1 map[]",
			rollback: "cannot read alarms at 10%",
		},
		{
			name: "alarm at the second step",
			answers: func(call int) (*cloudwatch.DescribeAlarmsOutput, error) {
				if call > 8 {
					return alarmsIn(cwtypes.StateValueAlarm, "thumb-errors"), nil
				}
				return alarmsIn(cwtypes.StateValueOk, "thumb-errors"), nil
			},
			updates:  "1 map[2:0.1]; 1 map[2:0.5]; 1 map[]",
			rollback: "alarm thumb-errors in ALARM at 50%",
		},
		{
			name: "insufficient data is not an alarm",
			answers: func(int) (*cloudwatch.DescribeAlarmsOutput, error) {
				return alarmsIn(cwtypes.StateValueInsufficientData, "thumb-errors"), nil
			},
			updates: "1 map[2:0.1]; 1 map[2:0.5]; 2 map[]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &aliasFake{version: "1"}
			calls := 0
			alarms := fakeAlarms(func(_ context.Context, in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
				calls++
				if strings.Join(in.AlarmNames, ",") != "thumb-errors" {
					t.Errorf("alarm names %v", in.AlarmNames)
				}
				return tt.answers(calls)
			})
			rec := &recorder{}
			a := newFakeApplier(f.api(), alarms)
			err := a.moveAlias(context.Background(), appliers.Request{App: "thumb"}, canarySpec, "2", rec, a.log)
			if got := strings.Join(f.updates, "; "); got != tt.updates {
				t.Errorf("alias updates %q, want %q", got, tt.updates)
			}
			if tt.rollback == "" {
				if err != nil || len(rec.started) > 0 {
					t.Errorf("err = %v, rollbacks %q", err, rec.started)
				}
				return
			}
			if !errors.Is(err, ErrRolledBack) {
				t.Errorf("err = %v, want ErrRolledBack", err)
			}
			if len(rec.started) != 1 || !strings.Contains(rec.started[0], tt.rollback) {
				t.Errorf("rollback reason %q, want %q", rec.started, tt.rollback)
			}
		})
	}
}

func TestPlanRefusesUnknownValues(t *testing.T) {
	a := New(nil, nil, Options{}, nil)
	_, err := a.Plan(context.Background(), appliers.Request{App: "thumb", Spec: &Spec{FunctionName: "thumb", Unknown: []string{"role"}}})
	if !appliers.IsStalled(err) || !strings.Contains(err.Error(), "role not known yet") {
		t.Errorf("err = %v", err)
	}
}
