//go:build linux

package terraform

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
)

// sleepMain is a stack whose apply holds the state lock for var.sleep
// seconds: changing var.n replaces terraform_data.s, whose creation runs a
// local-exec sleep.
const sleepMain = `variable "n" {
  type = string
}
variable "sleep" {
  type    = number
  default = 0
}
resource "terraform_data" "s" {
  triggers_replace = var.n
  provisioner "local-exec" {
    command = "sleep ${var.sleep}"
  }
}
`

const sleepBlock = `stack "locky" {
  path = "infra/locky"
  vars = { n = "1" }
}`

// startHolder starts `terraform apply` in the stack's directory in its own
// process group, replacing terraform_data.s with a 60 s local-exec sleep,
// and returns once Terraform is in the provisioner (holding the state lock).
// The group is killed at cleanup.
func startHolder(t *testing.T, a *Applier, app, path string) *exec.Cmd {
	t.Helper()
	root, err := a.WorkDirOf("platform", app)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(a.binary, "apply", "-auto-approve", "-no-color", "-input=false", "-var", "n=holder", "-var", "sleep=60")
	cmd.Dir = filepath.Join(root, srcDir, path)
	for k, v := range a.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "TF_IN_AUTOMATION=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killGroup(cmd) })
	ready := make(chan struct{})
	var (
		mu    sync.Mutex
		lines []string
	)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if strings.Contains(sc.Text(), "Provisioning with 'local-exec'") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		killGroup(cmd)
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the holder never reached its provisioner: %s", strings.Join(lines, "\n"))
	}
	return cmd
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
}

// TestDriftDoesNotWaitForDeploys: a drift scan neither waits for a state
// lock held by another process (it plans with -lock=false) nor queues
// behind a deploy of the stack running in this process (it is skipped with
// a Transient ErrDeployRunning at once).
func TestDriftDoesNotWaitForDeploys(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/locky/main.tf": sleepMain})
	spec := decodeStack(t, a, repo.Tree(), sleepBlock, nil)
	req := request("locky", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))
	ctx := context.Background()

	// Another process's apply holds the state lock.
	holder := startHolder(t, a, "locky", "infra/locky")
	start := time.Now()
	rep, err := a.Drift(ctx, req, nil)
	t.Logf("drift while another process holds the lock: %v, %+v, %v", time.Since(start).Round(time.Millisecond), rep, err)
	if err != nil {
		t.Fatalf("drift while another process holds the state lock: %v", err)
	}
	killGroup(holder)

	// A deploy in this process holds the stack (and the state lock) for 8 s.
	slow := decodeStack(t, a, repo.Tree(), `stack "locky" {
  path = "infra/locky"
  vars = { n = "2", sleep = 8 }
}`, nil)
	dreq := request("locky", "r2", slow, repo.Tree())
	p := mustPlan(t, a, dreq)
	applied := make(chan error, 1)
	go func() { _, err := a.Apply(ctx, dreq, p); applied <- err }()
	root, _ := a.WorkDirOf("platform", "locky")
	lockInfo := filepath.Join(root, srcDir, "infra/locky/.terraform.tfstate.lock.info")
	for deadline := time.Now().Add(30 * time.Second); !fileExists(lockInfo); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deploy never took the state lock")
		}
	}
	start = time.Now()
	_, err = a.Drift(ctx, dreq, nil)
	took := time.Since(start)
	t.Logf("drift during a deploy: %v, %v", took.Round(time.Millisecond), err)
	if ok, _ := appliers.IsTransient(err); !ok || !errors.Is(err, ErrDeployRunning) {
		t.Errorf("drift during a deploy: %v, want a Transient ErrDeployRunning", err)
	}
	if took > 2*time.Second {
		t.Errorf("drift waited %v for the deploy", took)
	}
	select {
	case err := <-applied:
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("apply did not finish")
	}
	if r, b := mustDrift(t, a, dreq, nil); r.Drifted() {
		t.Errorf("drift after the deploy: %s", b)
	}
}

// TestDriftYieldsToDeploy: a deploy arriving during a drift scan cancels
// the scan, which returns a Transient ErrDriftYielded, and gets the stack.
func TestDriftYieldsToDeploy(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/locky/main.tf": sleepMain})
	spec := decodeStack(t, a, repo.Tree(), sleepBlock, nil)
	req := request("locky", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))

	dctx, st, _, unlock, err := a.lockStackForDrift(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	_ = st
	got := make(chan error, 1)
	go func() { _, err := a.Plan(context.Background(), request("locky", "r2", spec, repo.Tree())); got <- err }()
	select {
	case <-dctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the scan was not cancelled for the deploy")
	}
	if err := yielded(dctx, dctx.Err()); !errors.Is(err, ErrDriftYielded) {
		t.Errorf("yielded scan: %v", err)
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("plan after the scan yielded: %v", err)
	}
}
