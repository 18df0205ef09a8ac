//go:build linux

package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/testenv"
)

func lockHeldErr(t *testing.T, err error) *LockHeldError {
	t.Helper()
	var le *LockHeldError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not a *LockHeldError", err, err)
	}
	if ok, after := appliers.IsTransient(err); !ok || after <= 0 || appliers.IsStalled(err) {
		t.Errorf("lock error not Transient with a retry hint: %v", err)
	}
	if !strings.Contains(err.Error(), "state lock") {
		t.Errorf("lock error message: %v", err)
	}
	return le
}

// TestPlanLockHeldByAnotherProcess: a real `terraform apply` in another
// process holds the local state's lock; Plan fails with a Transient
// *LockHeldError carrying the holder's lock info, and leaves the lock alone.
func TestPlanLockHeldByAnotherProcess(t *testing.T) {
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/locky/main.tf": sleepMain})
	spec := decodeStack(t, a, repo.Tree(), sleepBlock, nil)
	req := request("locky", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))

	holder := startHolder(t, a, "locky", "infra/locky")
	start := time.Now()
	_, err := a.Plan(context.Background(), request("locky", "r2", spec, repo.Tree()))
	t.Logf("plan against the held lock failed in %v: %v", time.Since(start).Round(time.Millisecond), err)
	le := lockHeldErr(t, err)
	host, _ := os.Hostname()
	if le.ID == "" || le.Operation != "OperationTypeApply" || !strings.HasSuffix(le.Who, "@"+host) || le.Host() != host ||
		le.Version == "" || le.Path == "" || time.Since(le.Created) > 2*time.Minute || le.Created.After(time.Now()) {
		t.Errorf("lock info: %+v", le)
	}
	root, _ := a.WorkDirOf("platform", "locky")
	info, err := os.ReadFile(filepath.Join(root, srcDir, "infra/locky/.terraform.tfstate.lock.info"))
	if err != nil {
		t.Fatalf("lock info file: %v", err)
	}
	var li struct{ ID string }
	if err := json.Unmarshal(info, &li); err != nil || li.ID != le.ID {
		t.Errorf("lock info file %s, parsed ID %q", info, le.ID)
	}
	// Still held by the holder, not unlocked by the applier.
	_, err = a.Plan(context.Background(), request("locky", "r3", spec, repo.Tree()))
	if le2 := lockHeldErr(t, err); le2.ID != le.ID {
		t.Errorf("second plan: lock %q, want %q still held", le2.ID, le.ID)
	}
	if holder.ProcessState != nil {
		t.Errorf("holder exited: %v", holder.ProcessState)
	}
	if o, err := a.LockOwner("platform", "locky"); err != nil || o == nil || o.DeployID != "d-r3" || o.Op != "plan" || o.PID != os.Getpid() || o.Host != host {
		t.Errorf("LockOwner = %+v, %v", o, err)
	}
}

const orphanMain = `terraform {
  backend "s3" {
    region                      = "us-east-1"
    access_key                  = "test"
    secret_key                  = "test"
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    skip_s3_checksum            = true
  }
}
` + sleepMain

// TestForceUnlockOrphanedLock: a terraform apply killed with SIGKILL while
// it held the state lock (S3 state, DynamoDB lock on moto) leaves the lock
// behind; Plan reports it as a *LockHeldError, ForceUnlock with its ID
// clears it, and a plan succeeds again.
func TestForceUnlockOrphanedLock(t *testing.T) {
	testenv.Short(t)
	moto := testenv.Moto(t)
	moto.CreateStateBackend(t, "tf-state-orphan", "tf-locks-orphan")
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/locky/main.tf": orphanMain})
	block := `stack "locky" {
  path = "infra/locky"
  vars = { n = "1" }
  backend_config = {
    bucket         = "tf-state-orphan"
    key            = "locky/terraform.tfstate"
    dynamodb_table = "tf-locks-orphan"
    endpoints      = "{s3=\"` + moto.Endpoint + `\",dynamodb=\"` + moto.Endpoint + `\"}"
  }
}`
	spec := decodeStack(t, a, repo.Tree(), block, nil)
	ctx := context.Background()
	req := request("locky", "r1", spec, repo.Tree())
	mustApply(t, a, req, mustPlan(t, a, req))

	holder := startHolder(t, a, "locky", "infra/locky")
	killGroup(holder) // kill -9: no chance to release the lock

	_, err := a.Plan(ctx, request("locky", "r2", spec, repo.Tree()))
	le := lockHeldErr(t, err)
	t.Logf("orphaned lock: %+v", le)
	if le.ID == "" || le.Operation != "OperationTypeApply" || le.Path != "tf-state-orphan/locky/terraform.tfstate" {
		t.Fatalf("lock info: %+v", le)
	}
	if err := a.ForceUnlock(ctx, request("locky", "r2", spec, repo.Tree()), ""); !appliers.IsStalled(err) {
		t.Errorf("ForceUnlock without an ID: %v", err)
	}
	start := time.Now()
	if err := a.ForceUnlock(ctx, request("locky", "r2", spec, repo.Tree()), le.ID); err != nil {
		t.Fatalf("ForceUnlock: %v", err)
	}
	t.Logf("force-unlock took %v", time.Since(start).Round(time.Millisecond))
	p := mustPlan(t, a, request("locky", "r3", spec, repo.Tree()))
	t.Logf("plan after force-unlock: %s", p.Summary)
}
