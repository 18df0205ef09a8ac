package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftless/driftless/appliers"
)

// The commands of a deploy (init, plan, show, apply) run through
// Applier.exec rather than terraform-exec: terraform-exec checks the
// version with `terraform version -json` once per handle, and a handle is
// per directory, so that was one more Terraform process per stack (≈40 ms
// of CPU, a fifth of a first deploy's). The applier checks the version
// once (checkVersion) and runs each command the way terraform-exec does:
// the same arguments and environment, its own process group, SIGINT on
// cancellation then a kill after WaitDelay, stderr kept for the error and
// copied, masked, to the debug log.

// minVersion is the oldest Terraform the applier runs: `apply -json` of a
// saved plan came in 0.15.3.
var minVersion = version.Must(version.NewVersion("0.15.3"))

// defaultWaitDelay is terraform-exec's: how long a cancelled Terraform gets
// after SIGINT before it is killed.
const defaultWaitDelay = 60 * time.Second

// checkVersion runs `terraform version -json` the first time it is called
// and fails from then on if the binary is older than minVersion; a failure
// to run it is retried on the next call.
func (a *Applier) checkVersion(ctx context.Context) (*version.Version, error) {
	a.verMu.Lock()
	defer a.verMu.Unlock()
	if a.version != nil || a.verErr != nil {
		return a.version, a.verErr
	}
	tf, err := tfexec.NewTerraform(a.cfg.WorkDir, a.exe)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	if err := tf.SetEnv(a.Env()); err != nil {
		return nil, fmt.Errorf("terraform environment: %w", err)
	}
	tf.SetLogger(runCounter{&a.runs})
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return nil, classify("version", err, a.red)
	}
	if v.LessThan(minVersion) {
		a.verErr = appliers.Stalled(fmt.Errorf("terraform %s at %s is too old: driftless needs %s or later", v, a.binary, minVersion))
		return nil, a.verErr
	}
	a.version = v
	return v, nil
}

// commandEnv is the environment of every Terraform command: the applier's,
// with what terraform-exec sets (automation mode, no logging into stderr,
// no TF_WORKSPACE: workspaces are selected with `terraform workspace`).
func commandEnv(env map[string]string) []string {
	m := make(map[string]string, len(env)+8)
	for k, v := range env {
		m[k] = v
	}
	if _, ok := m["CHECKPOINT_DISABLE"]; !ok {
		m["CHECKPOINT_DISABLE"] = os.Getenv("CHECKPOINT_DISABLE")
	}
	for _, k := range []string{"TF_LOG", "TF_LOG_CORE", "TF_LOG_PATH", "TF_LOG_PROVIDER"} {
		m[k] = ""
	}
	m["TF_IN_AUTOMATION"] = "1"
	delete(m, "TF_WORKSPACE")
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// exitError is a Terraform command that ran and failed: its error text is
// terraform-exec's ("exit status N\n" then stderr), which classify reads.
type exitError struct {
	code   int
	err    error
	stderr string
}

func (e *exitError) Error() string { return fmt.Sprintf("%v\n%s", e.err, e.stderr) }
func (e *exitError) Unwrap() error { return e.err }

// exec runs `terraform ARGS` in the stack's Terraform directory (st.mu
// held), writing its stdout to stdout (nil: discarded). The error is
// unclassified: an *exitError when Terraform ran and failed, a context
// error when ctx ended.
func (a *Applier) exec(ctx context.Context, st *stack, stdout io.Writer, args ...string) error {
	if _, err := a.checkVersion(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, a.exe, args...)
	cmd.Dir, cmd.Env = st.tfDir, a.cmdEnv
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = defaultWaitDelay
	if a.cfg.WaitDelay > 0 {
		cmd.WaitDelay = a.cfg.WaitDelay
	}
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, a.red.Writer(lineLogger{log: a.log.With("dir", st.tfDir), stream: "stderr"}))
	cmd.Stdout = stdout
	a.runs.Add(1)
	err := cmd.Run()
	if cerr := ctx.Err(); cerr != nil {
		if err != nil {
			return fmt.Errorf("%w (%v)", cerr, err)
		}
		return cerr
	}
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return &exitError{code: code, err: err, stderr: stderr.String()}
	}
	return nil
}

// planOpts are the options of runPlan.
type planOpts struct {
	out      string    // the plan file
	varFiles []string  // -var-file arguments, in order
	noLock   bool      // -lock=false (drift checks, previews)
	stdout   io.Writer // Terraform's plan text; nil: discarded
}

// plan runs `terraform plan -out` (the arguments terraform-exec's Plan
// passes) and reports whether the plan has changes (exit code 2 of
// -detailed-exitcode).
func (a *Applier) plan(ctx context.Context, st *stack, o planOpts) (bool, error) {
	args := []string{"plan", "-no-color", "-input=false", "-detailed-exitcode", "-lock-timeout=" + a.lockTimeout(), "-out=" + o.out}
	for _, f := range o.varFiles {
		args = append(args, "-var-file="+f)
	}
	args = append(args, fmt.Sprintf("-lock=%t", !o.noLock), "-parallelism=10", "-refresh=true")
	err := a.exec(ctx, st, o.stdout, args...)
	var ee *exitError
	if errors.As(err, &ee) && ee.code == 2 {
		return true, nil
	}
	return false, err
}

// showPlan reads a saved plan with `terraform show -json`.
func (a *Applier) showPlan(ctx context.Context, st *stack, file string) (*tfjson.Plan, error) {
	var out bytes.Buffer
	if err := a.exec(ctx, st, &out, "show", "-json", "-no-color", file); err != nil {
		return nil, err
	}
	var p tfjson.Plan
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding terraform show -json: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("terraform show -json: %w", err)
	}
	return &p, nil
}

// applyPlan runs `terraform apply -json PLAN`, its output streamed to w.
func (a *Applier) applyPlan(ctx context.Context, st *stack, w io.Writer, file string) error {
	return a.exec(ctx, st, w, "apply", "-no-color", "-auto-approve", "-input=false", "-lock-timeout="+a.lockTimeout(),
		"-lock=true", "-parallelism=10", "-refresh=true", "-json", file)
}

// initArgs are `terraform init`'s arguments (terraform-exec's Init's).
func initArgs(reconfigure bool, backendConfig map[string]string) []string {
	args := []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false"}
	if reconfigure {
		args = append(args, "-reconfigure")
	}
	for _, kv := range BackendConfigArgs(backendConfig) {
		args = append(args, "-backend-config="+kv)
	}
	return args
}
