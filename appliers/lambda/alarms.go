package lambda

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// watch waits one step_interval, reading the spec's alarms every Poll (and
// once at the end). It returns a reason to roll back: an alarm in ALARM, or
// alarms that could not be read at all during the step. err is set only
// when ctx ended.
func (a *Applier) watch(ctx context.Context, s *Spec, at string) (reason string, err error) {
	deadline := a.opts.Clock().Add(s.StepInterval)
	var lastErr error
	for {
		if len(s.Alarms) > 0 {
			firing, err := a.firing(ctx, s.Alarms)
			switch {
			case err != nil && ctx.Err() != nil:
				return "", ctx.Err()
			case err != nil:
				lastErr = err
				a.log.Warn("cannot read alarms", "function", s.FunctionName, "error", err)
			case len(firing) > 0:
				return fmt.Sprintf("alarm %s in ALARM at %s", strings.Join(firing, ", "), at), nil
			default:
				lastErr = nil
			}
		}
		now := a.opts.Clock()
		if !now.Before(deadline) {
			if lastErr != nil {
				return fmt.Sprintf("cannot read alarms at %s: %v", at, lastErr), nil
			}
			return "", nil
		}
		if err := a.opts.Sleep(ctx, min(a.opts.Poll, deadline.Sub(now))); err != nil {
			return "", err
		}
	}
}

// firing returns the names of the alarms in ALARM state. Alarms that do not
// exist are logged and otherwise ignored.
func (a *Applier) firing(ctx context.Context, names []string) ([]string, error) {
	var firing []string
	seen := map[string]bool{}
	for chunk := range slices.Chunk(names, 100) {
		in := &cloudwatch.DescribeAlarmsInput{
			AlarmNames: chunk,
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		}
		for {
			out, err := a.alarms.DescribeAlarms(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("describe alarms: %w", classify(err))
			}
			for _, m := range out.MetricAlarms {
				seen[aws.ToString(m.AlarmName)] = true
				if m.StateValue == cwtypes.StateValueAlarm {
					firing = append(firing, aws.ToString(m.AlarmName))
				}
			}
			for _, c := range out.CompositeAlarms {
				seen[aws.ToString(c.AlarmName)] = true
				if c.StateValue == cwtypes.StateValueAlarm {
					firing = append(firing, aws.ToString(c.AlarmName))
				}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	for _, n := range names {
		if !seen[n] {
			a.log.Warn("alarm does not exist", "alarm", n)
		}
	}
	slices.Sort(firing)
	return firing, nil
}
