package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/driftless/driftless/appliers"
)

// Apply carries out plan: it creates the function or updates its code
// and/or configuration, waits until Lambda reports the update successful,
// publishes a version and moves the alias to it (at once, or in
// traffic_steps while watching alarms, rolling the alias back when one
// fires).
//
// A plan without its artifact (for instance one approved after a restart)
// is planned again and applied only when the new plan has the same ID.
func (a *Applier) Apply(ctx context.Context, req appliers.Request, plan *appliers.Plan) (*appliers.Result, error) {
	art, _, err := appliers.PlanArtifact[*artifact](Kind, req.App, plan)
	if err != nil {
		return nil, err
	}
	if art == nil {
		p2, art2, err := a.plan(ctx, req)
		if err != nil {
			return nil, err
		}
		if p2.ID != plan.ID {
			return nil, appliers.StalePlan(Kind, req.App, "the function changed since the plan was made; plan again")
		}
		art = art2
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
	s := art.spec
	log = log.With("function", s.FunctionName)

	if err := a.deploy(ctx, req, art, obs, log); err != nil {
		return nil, err
	}
	ver, err := a.publish(ctx, req, s)
	if err != nil {
		return nil, err
	}
	obs.Step(fmt.Sprintf("published version %s of %s", ver, s.FunctionName))
	log.Info("published version", "version", ver)
	if err := a.moveAlias(ctx, req, s, ver, obs, log); err != nil {
		return nil, err
	}
	return &appliers.Result{Changes: plan.Changes}, nil
}

// deploy creates the function, or updates its code and configuration, and
// waits until each change is done.
func (a *Applier) deploy(ctx context.Context, req appliers.Request, art *artifact, obs appliers.Observer, log *slog.Logger) error {
	s := art.spec
	name := aws.String(s.FunctionName)
	var arn, codeSHA string
	switch {
	case art.create:
		in := &lambda.CreateFunctionInput{
			FunctionName: name,
			Role:         aws.String(s.Role),
			Code:         functionCode(s, art.zip),
			MemorySize:   aws.Int32(s.MemorySize),
			Timeout:      aws.Int32(s.Timeout),
			Description:  aws.String(s.Description),
			PackageType:  types.PackageTypeZip,
		}
		if s.CodeSource() == SourceImage {
			in.PackageType = types.PackageTypeImage
		} else {
			in.Runtime = types.Runtime(s.Runtime)
			in.Handler = aws.String(s.Handler)
		}
		if len(s.Environment) > 0 {
			in.Environment = &types.Environment{Variables: s.Environment}
		}
		in.Architectures = architectures(s)
		out, err := a.api.CreateFunction(ctx, in)
		if err != nil {
			return wrap(err, "lambda_function %s: create function %s", req.App, s.FunctionName)
		}
		arn, codeSHA = aws.ToString(out.FunctionArn), aws.ToString(out.CodeSha256)
		obs.Step(fmt.Sprintf("created function %s", s.FunctionName))
		log.Info("created function", "code_sha256", codeSHA)
		if err := a.waitReady(ctx, s.FunctionName, "", status(out.State, out.StateReason, out.LastUpdateStatus, out.LastUpdateStatusReason)); err != nil {
			return err
		}
	default:
		arn = art.live.FunctionArn
		if art.code {
			c := functionCode(s, art.zip)
			out, err := a.api.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
				FunctionName:    name,
				ZipFile:         c.ZipFile,
				ImageUri:        c.ImageUri,
				S3Bucket:        c.S3Bucket,
				S3Key:           c.S3Key,
				S3ObjectVersion: c.S3ObjectVersion,
				Architectures:   architectures(s),
			})
			if err != nil {
				return wrap(err, "lambda_function %s: update code of %s", req.App, s.FunctionName)
			}
			codeSHA = aws.ToString(out.CodeSha256)
			obs.Step(fmt.Sprintf("updated code of %s (sha256 %s)", s.FunctionName, short(codeSHA)))
			log.Info("updated function code", "code_sha256", codeSHA)
			if err := a.waitReady(ctx, s.FunctionName, "", status(out.State, out.StateReason, out.LastUpdateStatus, out.LastUpdateStatusReason)); err != nil {
				return err
			}
		}
		if art.config {
			in := &lambda.UpdateFunctionConfigurationInput{
				FunctionName: name,
				Role:         aws.String(s.Role),
				MemorySize:   aws.Int32(s.MemorySize),
				Timeout:      aws.Int32(s.Timeout),
				Description:  aws.String(s.Description),
				Environment:  &types.Environment{Variables: nonNil(s.Environment)},
			}
			if s.CodeSource() != SourceImage {
				in.Runtime = types.Runtime(s.Runtime)
				in.Handler = aws.String(s.Handler)
			}
			out, err := a.api.UpdateFunctionConfiguration(ctx, in)
			if err != nil {
				return wrap(err, "lambda_function %s: update configuration of %s", req.App, s.FunctionName)
			}
			obs.Step(fmt.Sprintf("updated configuration of %s", s.FunctionName))
			log.Info("updated function configuration")
			if err := a.waitReady(ctx, s.FunctionName, "", status(out.State, out.StateReason, out.LastUpdateStatus, out.LastUpdateStatusReason)); err != nil {
				return err
			}
		}
	}
	if s.CodeSource() == SourceS3 && codeSHA != "" {
		_, err := a.api.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: map[string]string{
			TagCodeSource: s3Source(s),
			TagCodeSHA:    codeSHA,
		}})
		if err != nil {
			return wrap(err, "lambda_function %s: tag %s with its code source", req.App, s.FunctionName)
		}
	}
	return nil
}

// publish publishes $LATEST as a version (Lambda returns the latest version
// instead when nothing changed since it) and waits until it is usable.
func (a *Applier) publish(ctx context.Context, req appliers.Request, s *Spec) (string, error) {
	out, err := a.api.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(s.FunctionName)})
	if err != nil {
		return "", wrap(err, "lambda_function %s: publish version of %s", req.App, s.FunctionName)
	}
	ver := aws.ToString(out.Version)
	if ver == "" || ver == "$LATEST" {
		return "", fmt.Errorf("lambda_function %s: publish version of %s: no version number in the answer", req.App, s.FunctionName)
	}
	if err := a.waitReady(ctx, s.FunctionName, ver, status(out.State, out.StateReason, out.LastUpdateStatus, out.LastUpdateStatusReason)); err != nil {
		return "", err
	}
	return ver, nil
}

func functionCode(s *Spec, zip []byte) *types.FunctionCode {
	switch s.CodeSource() {
	case SourceZip:
		return &types.FunctionCode{ZipFile: zip}
	case SourceImage:
		return &types.FunctionCode{ImageUri: aws.String(s.ImageURI)}
	default:
		c := &types.FunctionCode{S3Bucket: aws.String(s.S3Bucket), S3Key: aws.String(s.S3Key)}
		if s.S3ObjectVersion != "" {
			c.S3ObjectVersion = aws.String(s.S3ObjectVersion)
		}
		return c
	}
}

func architectures(s *Spec) []types.Architecture {
	if s.Architectures == nil {
		return nil
	}
	out := make([]types.Architecture, len(s.Architectures))
	for i, a := range s.Architectures {
		out[i] = types.Architecture(a)
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// fnStatus is the part of a function configuration that says whether an
// update is done.
type fnStatus struct {
	state       types.State
	stateReason string
	last        types.LastUpdateStatus
	lastReason  string
}

func status(st types.State, stReason *string, last types.LastUpdateStatus, lastReason *string) fnStatus {
	return fnStatus{state: st, stateReason: aws.ToString(stReason), last: last, lastReason: aws.ToString(lastReason)}
}

// waitReady polls the function (or one version of it) until its state is
// Active and its last update Successful. Failed is a Stalled error with
// Lambda's reason; running out of UpdateTimeout is a Transient one.
func (a *Applier) waitReady(ctx context.Context, name, qualifier string, st fnStatus) error {
	what := name
	if qualifier != "" {
		what = name + ":" + qualifier
	}
	deadline := a.opts.Clock().Add(a.opts.UpdateTimeout)
	for {
		switch {
		case st.state == types.StateFailed:
			return appliers.Stalled(fmt.Errorf("function %s failed: %s", what, orNone(st.stateReason)))
		case st.last == types.LastUpdateStatusFailed:
			return appliers.Stalled(fmt.Errorf("update of function %s failed: %s", what, orNone(st.lastReason)))
		case st.state != types.StatePending && st.last != types.LastUpdateStatusInProgress:
			return nil
		}
		if !a.opts.Clock().Before(deadline) {
			return appliers.Transient(fmt.Errorf("function %s: still %s (last update %s) after %s", what, st.state, orNone(string(st.last)), a.opts.UpdateTimeout), a.opts.Poll)
		}
		if err := a.opts.Sleep(ctx, a.opts.Poll); err != nil {
			return fmt.Errorf("waiting for function %s: %w", what, err)
		}
		in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)}
		if qualifier != "" {
			in.Qualifier = aws.String(qualifier)
		}
		out, err := a.api.GetFunctionConfiguration(ctx, in)
		if err != nil {
			return wrap(err, "waiting for function %s", what)
		}
		st = status(out.State, out.StateReason, out.LastUpdateStatus, out.LastUpdateStatusReason)
	}
}

// noRouting clears an alias's routing weights (a nil RoutingConfig would
// leave them as they are).
func noRouting() *types.AliasRoutingConfiguration {
	return &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}
}

// moveAlias points the alias at version ver: creating it when missing, at
// once without traffic_steps or on a first deploy, otherwise step by step.
func (a *Applier) moveAlias(ctx context.Context, req appliers.Request, s *Spec, ver string, obs appliers.Observer, log *slog.Logger) error {
	fn, alias := aws.String(s.FunctionName), aws.String(s.Alias)
	al, err := a.api.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: fn, Name: alias})
	if isNotFound(err) {
		if _, err := a.api.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: fn, Name: alias, FunctionVersion: aws.String(ver)}); err != nil {
			return wrap(err, "lambda_function %s: create alias %s", req.App, s.Alias)
		}
		obs.Step(fmt.Sprintf("created alias %s → version %s", s.Alias, ver))
		log.Info("created alias", "alias", s.Alias, "version", ver)
		return nil
	}
	if err != nil {
		return wrap(err, "lambda_function %s: get alias %s", req.App, s.Alias)
	}
	prev := aws.ToString(al.FunctionVersion)
	steps := s.TrafficSteps
	if prev == ver || prev == "$LATEST" || prev == "" {
		steps = nil // nothing to compare the new version with
	}
	for _, pct := range steps {
		if pct >= 100 {
			break
		}
		_, err := a.api.UpdateAlias(ctx, &lambda.UpdateAliasInput{
			FunctionName:    fn,
			Name:            alias,
			FunctionVersion: aws.String(prev),
			RoutingConfig:   &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{ver: float64(pct) / 100}},
		})
		if err != nil {
			err = wrap(err, "lambda_function %s: shift %d%% of alias %s to version %s", req.App, pct, s.Alias, ver)
			return a.rollback(ctx, req, s, prev, ver, err.Error(), err, obs, log)
		}
		msg := fmt.Sprintf("alias %s → version %s at %d%%", s.Alias, ver, pct)
		obs.Step(msg)
		log.Info(msg, "alias", s.Alias, "version", ver, "previous_version", prev, "percent", pct)
		reason, err := a.watch(ctx, s, fmt.Sprintf("%d%%", pct))
		if err != nil {
			return a.rollback(ctx, req, s, prev, ver, "apply interrupted: "+err.Error(), err, obs, log)
		}
		if reason != "" {
			cause := appliers.Stalled(fmt.Errorf("lambda_function %s: canary of version %s %w: %s", req.App, ver, ErrRolledBack, reason))
			return a.rollback(ctx, req, s, prev, ver, reason, cause, obs, log)
		}
	}
	if _, err := a.api.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: fn, Name: alias, FunctionVersion: aws.String(ver), RoutingConfig: noRouting()}); err != nil {
		err = wrap(err, "lambda_function %s: point alias %s at version %s", req.App, s.Alias, ver)
		if len(steps) > 0 {
			return a.rollback(ctx, req, s, prev, ver, err.Error(), err, obs, log)
		}
		return err
	}
	msg := fmt.Sprintf("alias %s → version %s at 100%%", s.Alias, ver)
	obs.Step(msg)
	log.Info(msg, "alias", s.Alias, "version", ver, "previous_version", prev)
	return nil
}

// rollback puts the alias back on prev with no routing weights, reporting
// it to obs, and returns cause (with the rollback's own failure, if any).
// It runs even when ctx is done, with a short deadline of its own.
func (a *Applier) rollback(ctx context.Context, req appliers.Request, s *Spec, prev, ver, reason string, cause error, obs appliers.Observer, log *slog.Logger) error {
	obs.RollbackStarted(reason)
	log.Warn("rolling back alias", "alias", s.Alias, "to_version", prev, "from_version", ver, "reason", reason)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := a.api.UpdateAlias(rctx, &lambda.UpdateAliasInput{
		FunctionName:    aws.String(s.FunctionName),
		Name:            aws.String(s.Alias),
		FunctionVersion: aws.String(prev),
		RoutingConfig:   noRouting(),
	})
	if err != nil {
		err = wrap(err, "lambda_function %s: roll alias %s back to version %s", req.App, s.Alias, prev)
		obs.RollbackDone(err)
		log.Error("rollback failed", "error", err)
		return errors.Join(cause, err)
	}
	obs.RollbackDone(nil)
	obs.Step(fmt.Sprintf("alias %s back on version %s", s.Alias, prev))
	log.Info("rolled back alias", "alias", s.Alias, "version", prev)
	if errors.Is(cause, ErrRolledBack) {
		return fmt.Errorf("%w; alias %s is back on version %s", cause, s.Alias, prev)
	}
	return fmt.Errorf("%w (%w: alias %s is back on version %s)", cause, ErrRolledBack, s.Alias, prev)
}
