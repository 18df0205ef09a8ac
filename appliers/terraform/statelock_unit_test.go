package terraform

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/driftless/driftless/appliers"
)

// Terraform 1.11's output for a held lock, diagnostics box and all.
const lockOutput = `exit status 1

Error: Error acquiring the state lock

│ Error: Error acquiring the state lock
│ 
│ Error message: operation error DynamoDB: PutItem, https response error
│ StatusCode: 400, ConditionalCheckFailedException: The conditional request failed
│ Lock Info:
│   ID:        0b1d2e3f-0000-0000-0000-000000000000
│   Path:      tf-state-applier/params/terraform.tfstate
│   Operation: OperationTypeApply
│   Who:       someone@elsewhere
│   Version:   1.11.4
│   Created:   2026-01-01 00:00:00.123456789 +0000 UTC
│   Info:      
│ 
│ 
│ Terraform acquires a state lock to protect the state from being written
│ by multiple users at the same time. Please resolve the issue above and try
│ again. For most commands, you can disable locking with the "-lock=false"
│ flag, but this is not recommended.
╵
`

func TestClassifyLockHeld(t *testing.T) {
	err := classify("plan", errors.New(lockOutput), nil)
	var le *LockHeldError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &le) {
		t.Fatalf("%T %v: no *LockHeldError", err, err)
	}
	if ok, after := appliers.IsTransient(err); !ok || after != lockRetry {
		t.Errorf("not Transient: %v", err)
	}
	want := LockHeldError{Op: "plan", ID: "0b1d2e3f-0000-0000-0000-000000000000", Path: "tf-state-applier/params/terraform.tfstate",
		Operation: "OperationTypeApply", Who: "someone@elsewhere", Version: "1.11.4",
		Created: time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC)}
	got := *le
	got.msg = ""
	if !got.Created.Equal(want.Created) {
		t.Errorf("Created = %v, want %v", got.Created, want.Created)
	}
	got.Created = want.Created
	if got != want {
		t.Errorf("lock info = %+v\nwant %+v", got, want)
	}
	if le.Host() != "elsewhere" {
		t.Errorf("Host = %q", le.Host())
	}
	if s := err.Error(); s[:len("terraform plan: state lock held: ")] != "terraform plan: state lock held: " {
		t.Errorf("message: %s", s)
	}
}

func TestClassifyInstallFailures(t *testing.T) {
	for _, c := range []struct {
		out       string
		transient bool
	}{
		{"Error: Failed to install provider\n\nError while installing hashicorp/aws v5.100.0: after installing registry.terraform.io/hashicorp/aws it is still not detected in /x/plugin-cache; this is a bug in Terraform", true},
		{"Error: Failed to install provider\n\nError while installing hashicorp/aws v5.100.0: failed to create directory /x: mkdir /x: file exists", true},
		{"Error: Failed to query available provider packages\n\nCould not retrieve the list of available versions for provider hashicorp/aws: could not connect to registry.terraform.io: failed to request discovery document", true},
		{"Error: Failed to install provider\n\nError while installing hashicorp/aws v5.100.0: the local package for registry.terraform.io/hashicorp/aws 5.100.0 doesn't match any of the checksums previously recorded in the dependency lock file", false},
		{"Error: Failed to query available provider packages\n\nCould not retrieve the list of available versions for provider hashicorp/nope: provider registry registry.terraform.io does not have a provider named registry.terraform.io/hashicorp/nope", false},
	} {
		err := classify("init", errors.New("exit status 1\n"+c.out), nil)
		if ok, _ := appliers.IsTransient(err); ok != c.transient || appliers.IsStalled(err) == c.transient {
			t.Errorf("%q: %v (stalled %v), want transient %v", c.out[:60], err, appliers.IsStalled(err), c.transient)
		}
	}
}

func TestParseLockTime(t *testing.T) {
	for _, s := range []string{"2026-12-02 02:30:00.5 +0000 UTC", "2026-12-02T02:30:00.5Z", "2026-12-02 02:30:00.5 +0000 UTC m=+0.1"} {
		if got := parseLockTime(s); !got.Equal(time.Date(2026, 12, 2, 2, 30, 0, 500000000, time.UTC)) {
			t.Errorf("parseLockTime(%q) = %v", s, got)
		}
	}
}
