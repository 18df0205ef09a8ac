package terraform

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/driftless/driftless/appliers"
)

// Apply applies exactly the saved plan, then reads the outputs. When the
// plan file is gone (for instance after a restart), it plans again and goes
// on only if the new plan has the same ID.
func (a *Applier) Apply(ctx context.Context, req appliers.Request, plan *appliers.Plan) (*appliers.Result, error) {
	art, _, err := appliers.PlanArtifact[*artifact]("stack", req.App, plan)
	if err != nil {
		return nil, err
	}
	st, spec, unlock, err := a.lockStack(req)
	if err != nil {
		return nil, err
	}
	defer unlock()
	log := a.logger(req)
	obs := req.Observer
	if obs == nil {
		obs = appliers.NopObserver{}
	}

	if art == nil || !fileExists(art.File) {
		log.Info("saved plan not available; planning again to check it is unchanged", "plan_id", plan.ID)
		again, err := a.planLocked(ctx, st, req, spec, log)
		if err != nil {
			return nil, err
		}
		art, _ = again.Artifact.(*artifact)
		if again.ID != plan.ID {
			os.Remove(art.File)
			return nil, appliers.StalePlan("stack", req.App, fmt.Sprintf("plan %s was approved, the changes now planned differ (%s)", short(plan.ID), again.Summary))
		}
	} else if _, err := a.prepare(ctx, st, req, spec, log); err != nil {
		return nil, err
	}
	defer os.Remove(art.File)

	start := time.Now()
	stream := &applyStream{obs: obs, red: a.red}
	a.recordLockOwner(st, req, "apply")
	err = a.applyPlan(ctx, st, stream, art.File)
	stream.flush()
	if err != nil {
		return nil, classify("apply", joinDiagnostics(err, stream.diags), a.red)
	}
	log.Info("terraform apply done", "plan_id", plan.ID, "duration_ms", time.Since(start).Milliseconds())

	outputs := stream.outputs
	if outputs == nil && (art.HasOutputs || !art.Shown) || stream.needFetch {
		tf, err := a.terraform(st)
		if err != nil {
			return nil, err
		}
		if outputs, err = a.readOutputs(ctx, tf); err != nil {
			return nil, err
		}
	}
	if outputs == nil {
		outputs = map[string]appliers.Output{}
	}
	return &appliers.Result{Changes: plan.Changes, Outputs: outputs}, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Outputs reads the stack's outputs with `terraform output -json`.
func (a *Applier) Outputs(ctx context.Context, req appliers.Request) (map[string]appliers.Output, error) {
	st, spec, unlock, err := a.lockStack(req)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tf, err := a.prepare(ctx, st, req, spec, a.logger(req))
	if err != nil {
		return nil, err
	}
	return a.readOutputs(ctx, tf)
}

func (a *Applier) readOutputs(ctx context.Context, tf *tfexec.Terraform) (map[string]appliers.Output, error) {
	outs, err := tf.Output(ctx)
	if err != nil {
		return nil, classify("output", err, a.red)
	}
	m := make(map[string]appliers.Output, len(outs))
	for k, o := range outs {
		m[k] = appliers.Output{Value: o.Value, Type: o.Type, Sensitive: o.Sensitive}
	}
	return m, nil
}
