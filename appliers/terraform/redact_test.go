package terraform

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"
)

func TestEnvSecrets(t *testing.T) {
	extra := map[string]string{"DB_PASS": "db-pass-value", "DATABASE_URL": "postgres://u:p@h/db", "MYSQL_PWD": "mysql-pwd"}
	env := map[string]string{"PATH": "/usr/bin", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_SESSION_TOKEN": "aws-session", "TF_TOKEN_app_terraform_io": "tf-cloud-token"}
	for k, v := range extra {
		env[k] = v
	}
	got := envSecrets(extra, env)
	for _, want := range []string{"db-pass-value", "postgres://u:p@h/db", "mysql-pwd", "AKIAEXAMPLE", "aws-secret", "aws-session", "tf-cloud-token"} {
		if !slices.Contains(got, want) {
			t.Errorf("envSecrets lacks %q: %q", want, got)
		}
	}
	for _, not := range []string{"/usr/bin", "us-east-1"} {
		if slices.Contains(got, not) {
			t.Errorf("envSecrets holds %q, not a secret", not)
		}
	}
}

// TestEnvValuesNeverLeak gives Terraform terraform.env values whose names do
// not look secret and a stack that prints them and fails: neither the
// error, the observer's steps nor the applier's debug log may hold them,
// and the shared redactor the applier was given must know them.
func TestEnvValuesNeverLeak(t *testing.T) {
	const (
		dbPass = "db-PASS-canary-7c1e"
		dbURL  = "postgres://app:url-PASS-canary-31@db.internal:5432/prod"
		awsKey = "aws-SECRET-canary-0b9d"
	)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsKey) // from the controller's environment
	var logs testenv.LogBuffer
	red := redact.New()
	cfg := Config{
		Binary:   testenv.TerraformBinary(t),
		WorkDir:  filepath.Join(t.TempDir(), "terraform"),
		BaseEnv:  os.Environ(),
		Env:      map[string]string{"DB_PASS": dbPass, "DATABASE_URL": dbURL},
		Redactor: red,
	}
	a, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	repo := newRepo(t, map[string]string{"leaky/main.tf": `resource "terraform_data" "leak" {
  provisioner "local-exec" {
    command = "echo pass=$DB_PASS url=$DATABASE_URL aws=$AWS_SECRET_ACCESS_KEY; echo stderr $DB_PASS >&2; exit 1"
  }
}
`})
	spec := decodeStack(t, a, repo.Tree(), `stack "leaky" { path = "leaky" }`, nil)
	req := request("leaky", "r1", spec, repo.Tree())
	_, err = a.Apply(context.Background(), req, mustPlan(t, a, req))
	if err == nil {
		t.Fatal("Apply of a failing provisioner succeeded")
	}
	t.Logf("error: %v", err)
	rec := req.Observer.(*stepRecorder)
	rec.mu.Lock()
	steps := strings.Join(rec.steps, "\n")
	rec.mu.Unlock()
	for what, s := range map[string]string{"error": err.Error(), "log": logs.String(), "steps": steps} {
		mustNotContain(t, what, s, dbPass, dbURL, "url-PASS-canary-31", awsKey)
	}
	for _, s := range []string{dbPass, dbURL, awsKey} {
		if got := red.String(s); got != redact.Mask {
			t.Errorf("the shared redactor does not mask %q: %q", s, got)
		}
	}
}
