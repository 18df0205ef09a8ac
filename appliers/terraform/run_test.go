package terraform

import (
	"slices"
	"testing"
)

// TestCommandEnv: Terraform runs in automation mode, never logs into the
// stderr driftless parses, and never takes its workspace from TF_WORKSPACE
// (workspaces are selected with `terraform workspace`).
func TestCommandEnv(t *testing.T) {
	env := commandEnv(map[string]string{
		"PATH": "/usr/bin", "TF_LOG": "TRACE", "TF_LOG_PATH": "/tmp/x", "TF_WORKSPACE": "prod",
		"TF_IN_AUTOMATION": "", "CHECKPOINT_DISABLE": "1",
	})
	for _, kv := range []string{"PATH=/usr/bin", "TF_LOG=", "TF_LOG_PATH=", "TF_LOG_CORE=", "TF_LOG_PROVIDER=", "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"} {
		if !slices.Contains(env, kv) {
			t.Errorf("environment lacks %s: %v", kv, env)
		}
	}
	for _, kv := range env {
		if kv == "TF_WORKSPACE=prod" || kv == "TF_LOG=TRACE" {
			t.Errorf("environment has %s", kv)
		}
	}
	if !slices.IsSorted(env) {
		t.Errorf("environment not sorted: %v", env)
	}
}
