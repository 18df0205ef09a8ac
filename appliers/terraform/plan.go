package terraform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/driftless/driftless/appliers"
)

// artifact is Plan.Artifact: the saved plan file and what Apply needs to
// know about it.
type artifact struct {
	File       string
	HasOutputs bool // the plan lists outputs
	Shown      bool // the plan was read with show (HasOutputs is meaningful)
}

func (a *Applier) lockTimeout() string {
	return fmt.Sprintf("%ds", int(a.cfg.LockTimeout/time.Second))
}

// lockStack checks that the applier can run Terraform, finds the request's
// stack and locks it: one Terraform command at a time per stack. The
// caller must call unlock.
func (a *Applier) lockStack(req appliers.Request) (st *stack, spec *Spec, unlock func(), err error) {
	if a.binary == "" {
		return nil, nil, nil, errDecodeOnly
	}
	if spec, err = specOf(req); err != nil {
		return nil, nil, nil, err
	}
	var tfDir string
	if st, tfDir, err = a.stackFor(req, spec); err != nil {
		return nil, nil, nil, err
	}
	a.lockForDeploy(st)
	st.setDir(tfDir)
	if err := a.openStack(st); err != nil {
		a.park(st)
		st.mu.Unlock()
		return nil, nil, nil, err
	}
	return st, spec, func() { a.park(st); st.mu.Unlock() }, nil
}

// Plan runs `terraform plan -out` for the request and reads the saved plan.
func (a *Applier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	st, spec, unlock, err := a.lockStack(req)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return a.planLocked(ctx, st, req, spec, a.logger(req))
}

func (a *Applier) planLocked(ctx context.Context, st *stack, req appliers.Request, spec *Spec, log *slog.Logger) (*appliers.Plan, error) {
	if len(spec.Unknown) > 0 {
		return nil, appliers.Transient(fmt.Errorf("%w: %v", ErrUnknownInputs, spec.Unknown), time.Minute)
	}
	_, err := a.prepare(ctx, st, req, spec, log)
	if err != nil {
		return nil, err
	}
	prunePlans(st.root, 4)
	planFile := filepath.Join(st.root, "plan-"+randomToken()+".tfplan")
	start := time.Now()
	a.recordLockOwner(st, req, "plan")
	changed, err := a.runPlan(ctx, st, req, spec, planOpts{out: planFile, varFiles: a.varFileArgs(st, spec)}, log)
	if err != nil {
		os.Remove(planFile)
		return nil, err
	}
	in, err := a.idInput(st, req, spec)
	if err != nil {
		os.Remove(planFile)
		return nil, err
	}
	plan := &appliers.Plan{Changed: changed, Summary: "no changes"}
	art := &artifact{File: planFile}
	if changed {
		p, err := a.showPlan(ctx, st, planFile)
		if err != nil {
			os.Remove(planFile)
			return nil, classify("show", err, a.red)
		}
		plan.Changes = planChanges(p)
		plan.Summary = Summary(plan.Changes, outputsChanged(p))
		art.HasOutputs, art.Shown = len(p.OutputChanges) > 0, true
		if plan.ID, err = planID(in, p); err != nil {
			os.Remove(planFile)
			return nil, err
		}
	} else if plan.ID, err = planID(in, nil); err != nil {
		os.Remove(planFile)
		return nil, err
	}
	plan.Artifact = art
	log.Info("terraform plan done", "changed", plan.Changed, "summary", plan.Summary, "plan_id", plan.ID, "duration_ms", time.Since(start).Milliseconds())
	return plan, nil
}

// runPlan runs `terraform plan` with o; when Terraform asks for init, it
// runs init once and plans again (st.mu held). The error is classified.
func (a *Applier) runPlan(ctx context.Context, st *stack, req appliers.Request, spec *Spec, o planOpts, log *slog.Logger) (bool, error) {
	changed, err := a.plan(ctx, st, o)
	if err != nil && needsInit(err) && ctx.Err() == nil {
		log.Info("terraform asks for init; running it and planning again")
		fp, backendFP, ferr := a.initFingerprint(req.Tree, spec)
		if ferr != nil {
			return false, appliers.Stalled(ferr)
		}
		if ierr := a.init(ctx, st, spec, fp, backendFP, true, log); ierr != nil {
			return false, ierr
		}
		tf, terr := a.terraform(st)
		if terr != nil {
			return false, terr
		}
		if werr := a.selectWorkspace(ctx, st, tf, spec.Workspace); werr != nil {
			return false, werr
		}
		changed, err = a.plan(ctx, st, o)
	}
	if err != nil {
		return false, classify("plan", err, a.red)
	}
	return changed, nil
}

// varFileArgs lists the -var-file arguments: the spec's var files in order,
// then the generated vars file (manifest vars win).
func (a *Applier) varFileArgs(st *stack, spec *Spec) []string {
	var out []string
	for _, f := range spec.VarFiles {
		out = append(out, filepath.Join(st.root, srcDir, filepath.FromSlash(f)))
	}
	if len(spec.Vars) > 0 {
		out = append(out, filepath.Join(st.root, varsFile))
	}
	return out
}

func (a *Applier) idInput(st *stack, req appliers.Request, spec *Spec) (planIDInput, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return planIDInput{}, fmt.Errorf("encoding spec: %w", err)
	}
	in := planIDInput{Revision: req.Revision, SpecJSON: specJSON}
	for _, f := range spec.VarFiles {
		b, err := os.ReadFile(filepath.Join(st.root, srcDir, filepath.FromSlash(f)))
		if err != nil {
			return planIDInput{}, fmt.Errorf("reading var file: %w", err)
		}
		in.VarFiles = append(in.VarFiles, namedContent{Name: f, Content: b})
	}
	lock, err := os.ReadFile(filepath.Join(st.tfDir, ".terraform.lock.hcl"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return planIDInput{}, fmt.Errorf("reading lock file: %w", err)
	}
	in.LockFile = lock
	return in, nil
}

// prunePlans removes all but the newest keep plan files of a stack (plans
// never applied: superseded, or without changes).
func prunePlans(root string, keep int) {
	files, _ := filepath.Glob(filepath.Join(root, "plan-*.tfplan"))
	if len(files) <= keep {
		return
	}
	type fm struct {
		name string
		mod  time.Time
	}
	var all []fm
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			all = append(all, fm{f, fi.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for _, f := range all[min(keep, len(all)):] {
		os.Remove(f.name)
	}
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
