package ecs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/driftless/driftless/appliers"
)

// ErrRollout marks a deployment that did not become healthy: it timed out,
// the ECS circuit breaker failed it, or an alarm fired during the bake.
// Apply's error wraps it (and appliers.StalledError: retrying the same
// revision would deploy the same unhealthy version again).
var ErrRollout = errors.New("deployment failed")

// Apply carries out plan: registers the task definition when its content
// changed, updates (or creates) the service, waits until it is steady,
// bakes while watching the alarms, and on failure rolls back to the
// previous task definition when rollback_on_failure is set. An unchanged
// plan makes no AWS call at all.
func (a *Applier) Apply(ctx context.Context, req appliers.Request, plan *appliers.Plan) (*appliers.Result, error) {
	s, err := specOf(req.Spec)
	if err != nil {
		return nil, err
	}
	// ECS plans are never approved, so never applied after a restart: a
	// plan without its artifact is one this applier did not make.
	art, _, err := appliers.PlanArtifact[*artifact](Kind, req.App, plan)
	if err != nil {
		return nil, err
	}
	if art == nil {
		return nil, appliers.Stalled(fmt.Errorf("%s %s: %w: the plan has no artifact", Kind, req.App, appliers.ErrForeignPlan))
	}
	if !plan.Changed {
		return &appliers.Result{}, nil
	}
	obs := req.Observer
	if obs == nil {
		obs = appliers.NopObserver{}
	}
	log := req.Log
	if log == nil {
		log = a.log
	}
	log = log.With("cluster", art.Cluster, "service", art.Service)

	if art.Create {
		if err := a.checkCluster(ctx, art.Cluster); err != nil {
			return nil, err
		}
	}
	target := art.TargetARN
	if art.Register != nil {
		in, err := fromCanonical(art.Register)
		if err != nil {
			return nil, err
		}
		out, err := a.api.RegisterTaskDefinition(ctx, in)
		if err != nil {
			return nil, classify(err, "registering task definition %s", aws.ToString(in.Family))
		}
		if out == nil || out.TaskDefinition == nil || aws.ToString(out.TaskDefinition.TaskDefinitionArn) == "" {
			return nil, appliers.Transient(fmt.Errorf("registering task definition %s: the response names no task definition", aws.ToString(in.Family)), 0)
		}
		target = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
		if c, err := canonical(inputFromLive(out.TaskDefinition, out.Tags)); err == nil {
			a.remember(&liveTaskDef{ARN: target, Canonical: c}, target)
		}
		obs.Step("registered task definition " + familyRevision(target))
		log.Info("registered task definition", "task_definition", target)
	}

	if art.Create {
		if _, err := a.api.CreateService(ctx, createInput(s, art, target)); err != nil {
			return nil, classify(err, "creating service %s in cluster %s", art.Service, art.Cluster)
		}
		obs.Step(fmt.Sprintf("created service %s in cluster %s with %s, desired count %d", art.Service, art.Cluster, familyRevision(target), aws.ToInt32(art.SetDesired)))
	} else {
		in := &ecs.UpdateServiceInput{Cluster: aws.String(art.Cluster), Service: aws.String(art.Service), ForceNewDeployment: false}
		if art.TDChanged {
			in.TaskDefinition = aws.String(target)
		}
		if art.DesiredChanged {
			in.DesiredCount = art.SetDesired
		}
		if _, err := a.api.UpdateService(ctx, in); err != nil {
			return nil, classify(err, "updating service %s in cluster %s", art.Service, art.Cluster)
		}
		obs.Step(fmt.Sprintf("updated service %s: %s", art.Service, plan.Summary))
	}
	log.Info("deployment started", "task_definition", target)

	failure := a.waitSteady(ctx, art.Cluster, art.Service, s.WaitTimeout, obs)
	if failure == nil {
		obs.Step(fmt.Sprintf("service %s is steady", art.Service))
		failure = a.bake(ctx, s, obs)
	}
	if failure == nil {
		return &appliers.Result{Changes: plan.Changes}, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("ecs_service %s: %w", req.App, failure)
	}
	log.Warn("deployment failed", "error", failure)
	if art.Create || !s.RollbackOnFailure {
		why := "rollback_on_failure is false"
		if art.Create {
			why = "the service is new: nothing to roll back to"
		}
		return nil, appliers.Stalled(fmt.Errorf("ecs_service %s: %w (not rolled back: %s)", req.App, failure, why))
	}
	return nil, a.rollback(ctx, req, s, art, failure, obs)
}

// rollback puts the service back on the previous task definition (and
// desired count, when the plan changed it) and waits until it is steady.
func (a *Applier) rollback(ctx context.Context, req appliers.Request, s *Spec, art *artifact, failure error, obs appliers.Observer) error {
	obs.RollbackStarted(failure.Error())
	in := &ecs.UpdateServiceInput{Cluster: aws.String(art.Cluster), Service: aws.String(art.Service)}
	if art.TDChanged {
		in.TaskDefinition = aws.String(art.PrevARN)
	}
	if art.DesiredChanged {
		in.DesiredCount = aws.Int32(art.PrevDesired)
	}
	var err error
	if _, uerr := a.api.UpdateService(ctx, in); uerr != nil {
		err = classify(uerr, "updating service %s back to %s", art.Service, familyRevision(art.PrevARN))
	} else {
		obs.Step(fmt.Sprintf("rolling service %s back to %s", art.Service, familyRevision(art.PrevARN)))
		err = a.waitSteady(ctx, art.Cluster, art.Service, s.WaitTimeout, obs)
	}
	obs.RollbackDone(err)
	if err != nil {
		return appliers.Stalled(fmt.Errorf("ecs_service %s: %w; rollback to %s failed too: %w", req.App, failure, familyRevision(art.PrevARN), err))
	}
	return appliers.Stalled(fmt.Errorf("ecs_service %s: %w; rolled back to %s", req.App, failure, familyRevision(art.PrevARN)))
}

// waitSteady polls the service until it is steady by the rule of AWS's
// services-stable waiter — exactly one deployment and runningCount equal
// to desiredCount — and, where ECS reports one, that deployment's rollout
// state is COMPLETED. A rollout state FAILED (deployment circuit breaker)
// or a deleted service fails at once; not steady within timeout fails.
func (a *Applier) waitSteady(ctx context.Context, cluster, service string, timeout time.Duration, obs appliers.Observer) error {
	deadline := a.opts.Clock().Add(timeout)
	last := "not described yet"
	for {
		out, err := a.api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
		switch {
		case err != nil:
			err = classify(err, "describing service %s", service)
			if ok, _ := appliers.IsTransient(err); !ok {
				return err
			}
			last = err.Error()
		case len(out.Services) == 0:
			return fmt.Errorf("%w: service %s disappeared from cluster %s", ErrRollout, service, cluster)
		default:
			svc := activeService(out.Services)
			if svc == nil {
				return fmt.Errorf("%w: service %s is %s", ErrRollout, service, aws.ToString(out.Services[0].Status))
			}
			steady, failed, state := rolloutState(svc)
			if failed != "" {
				return fmt.Errorf("%w: %s", ErrRollout, failed)
			}
			if steady {
				return nil
			}
			if state != last {
				obs.Step(fmt.Sprintf("waiting for service %s: %s", service, state))
			}
			last = state
		}
		if !a.opts.Clock().Before(deadline) {
			return fmt.Errorf("%w: service %s not steady after %s (%s)", ErrRollout, service, timeout, last)
		}
		if err := a.opts.Sleep(ctx, a.opts.Poll); err != nil {
			return err
		}
	}
}

func activeService(svcs []types.Service) *types.Service {
	for i := range svcs {
		if aws.ToString(svcs[i].Status) == "ACTIVE" {
			return &svcs[i]
		}
	}
	return nil
}

// rolloutState applies the steady rule to one described service; failed
// is non-empty when the deployment failed, state describes progress.
func rolloutState(svc *types.Service) (steady bool, failed, state string) {
	for _, d := range svc.Deployments {
		if d.RolloutState == types.DeploymentRolloutStateFailed {
			failed = fmt.Sprintf("deployment %s of %s failed", aws.ToString(d.Id), familyRevision(aws.ToString(d.TaskDefinition)))
			if r := aws.ToString(d.RolloutStateReason); r != "" {
				failed += ": " + r
			}
			return false, failed, ""
		}
	}
	state = fmt.Sprintf("%d deployment(s), %d/%d running", len(svc.Deployments), svc.RunningCount, svc.DesiredCount)
	if len(svc.Deployments) != 1 || svc.RunningCount != svc.DesiredCount {
		return false, "", state
	}
	rs := svc.Deployments[0].RolloutState
	if rs != "" && rs != types.DeploymentRolloutStateCompleted {
		return false, "", state + ", rollout " + string(rs)
	}
	return true, "", state
}

// bake watches the alarms for bake_time: any in ALARM fails the deploy.
// The alarms are checked at once, then every poll interval until the bake
// time has passed.
func (a *Applier) bake(ctx context.Context, s *Spec, obs appliers.Observer) error {
	if len(s.Alarms) == 0 {
		if s.BakeTime > 0 {
			obs.Step(fmt.Sprintf("baking for %s", s.BakeTime))
			return a.opts.Sleep(ctx, s.BakeTime)
		}
		return nil
	}
	obs.Step(fmt.Sprintf("baking for %s, watching alarms %v", s.BakeTime, s.Alarms))
	end := a.opts.Clock().Add(s.BakeTime)
	for {
		alarms, err := a.describeAlarms(ctx, s.Alarms)
		if err != nil {
			if ok, _ := appliers.IsTransient(err); !ok {
				return err
			}
		}
		for _, al := range alarms {
			if al.StateValue == cwtypes.StateValueAlarm {
				return fmt.Errorf("%w: alarm %s is in ALARM during the bake: %s", ErrRollout, aws.ToString(al.AlarmName), aws.ToString(al.StateReason))
			}
		}
		now := a.opts.Clock()
		if !now.Before(end) {
			return nil
		}
		if err := a.opts.Sleep(ctx, min(a.opts.Poll, end.Sub(now))); err != nil {
			return err
		}
	}
}

// maxAlarmNames is how many names one DescribeAlarms call accepts.
const maxAlarmNames = 100

func (a *Applier) describeAlarms(ctx context.Context, names []string) ([]cwtypes.MetricAlarm, error) {
	if a.alarms == nil {
		return nil, appliers.Stalled(errors.New("alarms are set but no CloudWatch client is configured"))
	}
	var out []cwtypes.MetricAlarm
	for chunk := range slices.Chunk(names, maxAlarmNames) {
		in := &cloudwatch.DescribeAlarmsInput{AlarmNames: chunk, AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}}
		for {
			page, err := a.alarms.DescribeAlarms(ctx, in)
			if err != nil {
				return nil, classify(err, "describing alarms")
			}
			out = append(out, page.MetricAlarms...)
			for _, c := range page.CompositeAlarms {
				out = append(out, cwtypes.MetricAlarm{AlarmName: c.AlarmName, StateValue: c.StateValue, StateReason: c.StateReason})
			}
			if aws.ToString(page.NextToken) == "" {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	return out, nil
}

// checkAlarms makes sure every alarm named in the block exists: a typo
// must not silently disable the bake.
func (a *Applier) checkAlarms(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	alarms, err := a.describeAlarms(ctx, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !slices.ContainsFunc(alarms, func(m cwtypes.MetricAlarm) bool { return aws.ToString(m.AlarmName) == n }) {
			return appliers.Stalled(fmt.Errorf("alarm %s not found in CloudWatch", n))
		}
	}
	return nil
}

func (a *Applier) checkCluster(ctx context.Context, cluster string) error {
	out, err := a.api.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{cluster}})
	if err != nil {
		return classify(err, "describing cluster %s", cluster)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.Status) == "ACTIVE" || aws.ToString(c.Status) == "PROVISIONING" {
			return nil
		}
	}
	return appliers.Stalled(fmt.Errorf("cluster %s not found", cluster))
}

// createInput builds CreateService for a service that does not exist yet:
// rolling deployments (controller ECS) with the circuit breaker on (its own
// rollback off: the applier rolls back, and reports it).
func createInput(s *Spec, art *artifact, target string) *ecs.CreateServiceInput {
	in := &ecs.CreateServiceInput{
		Cluster:              aws.String(art.Cluster),
		ServiceName:          aws.String(art.Service),
		TaskDefinition:       aws.String(target),
		DesiredCount:         art.SetDesired,
		DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeEcs},
		DeploymentConfiguration: &types.DeploymentConfiguration{
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: false},
		},
	}
	lt := s.LaunchType
	if lt == "" && len(s.TaskDefinition) > 0 {
		if in, err := fromCanonical(s.TaskDefinition); err == nil && slices.Equal(in.RequiresCompatibilities, []types.Compatibility{types.CompatibilityFargate}) {
			lt = "FARGATE"
		}
	}
	if lt != "" {
		in.LaunchType = types.LaunchType(lt)
	}
	if n := s.Network; n != nil {
		assign := types.AssignPublicIpDisabled
		if n.AssignPublicIP {
			assign = types.AssignPublicIpEnabled
		}
		in.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: n.Subnets, SecurityGroups: n.SecurityGroups, AssignPublicIp: assign,
		}}
	}
	return in
}
