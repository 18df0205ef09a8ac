package terraform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/redact"
)

// ErrStalePlan (appliers.ErrStalePlan) is wrapped by Apply's error when the
// saved plan can no longer be applied. When Terraform finds the state
// changed since the plan was made, the error is Transient: the retry plans
// again. When the plan file is gone and a new plan differs from the
// approved one, it is Stalled, as with every applier.
var ErrStalePlan = appliers.ErrStalePlan

// ErrUnknownInputs is wrapped by Plan's error when the spec still holds
// values that depend on outputs not known yet.
var ErrUnknownInputs = errors.New("stack inputs are not known yet")

// Retry hints for transient failures.
const (
	lockRetry    = 15 * time.Second
	networkRetry = 30 * time.Second
)

var (
	lockMarkers = []string{
		"Error acquiring the state lock",
		"Error locking state",
		"ConditionalCheckFailedException",
	}
	staleMarkers = []string{
		"Saved plan is stale",
	}
	initMarkers = []string{
		`Please run "terraform init"`,
		"terraform init",
		"Module not installed",
		"Backend initialization required",
		"Required plugins are not installed",
		"Inconsistent dependency lock file",
		"Missing required provider",
		"Module source has changed",
		"Module version requirements have changed",
	}
	networkMarkers = []string{
		"dial tcp",
		"connection refused",
		"connection reset by peer",
		"i/o timeout",
		"TLS handshake timeout",
		"no such host",
		"send request failed",
		"ThrottlingException",
		"Rate exceeded",
		"RequestLimitExceeded",
		"TooManyRequestsException",
		"ServiceUnavailable",
		"503 Service Unavailable",
		"context deadline exceeded (Client.Timeout",
	}
)

func containsAny(s string, markers []string) bool {
	for _, m := range markers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// needsInit reports whether a failed command asked for `terraform init`.
func needsInit(err error) bool {
	return err != nil && containsAny(err.Error(), initMarkers)
}

// classify turns an error from a Terraform command into a classified error
// for the reconciler: context errors pass through; a held lock, a stale plan
// or a network error is Transient; a Terraform diagnostic is Stalled; any
// other failure (the binary could not run) is Transient. The message keeps
// the first lines of Terraform's diagnostics, redacted.
func classify(op string, err error, red *redact.Redactor) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("terraform %s: %w", op, err)
	}
	raw := err.Error()
	msg := diagnosticText(red.String(raw)) // masked before it is cut: no half secret
	switch {
	case containsAny(raw, lockMarkers):
		return appliers.Transient(lockHeld(op, raw, msg), lockRetry)
	case containsAny(raw, staleMarkers):
		return appliers.Transient(fmt.Errorf("terraform %s: %w: %s", op, ErrStalePlan, msg), 0)
	case installFailure(raw):
		return appliers.Transient(fmt.Errorf("terraform %s: %s", op, msg), installRetry)
	case containsAny(raw, networkMarkers):
		return appliers.Transient(fmt.Errorf("terraform %s: %s", op, msg), networkRetry)
	case strings.Contains(raw, "Error: "):
		return appliers.Stalled(fmt.Errorf("terraform %s: %s", op, msg))
	default:
		return appliers.Transient(fmt.Errorf("terraform %s: %s", op, msg), networkRetry)
	}
}

const (
	maxDiagLines = 15
	maxDiagChars = 1500
)

// diagnosticText keeps the useful part of a terraform-exec error ("exit
// status 1\n<stderr>"): from the first "Error:" on, at most maxDiagLines
// non-empty lines and maxDiagChars characters.
func diagnosticText(s string) string {
	if i := strings.Index(s, "Error: "); i >= 0 {
		s = s[i:]
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) == "" || strings.Trim(l, "╷╵│ ") == "" {
			continue
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "│ "), "│")
		out = append(out, l)
		if len(out) == maxDiagLines {
			out = append(out, "…")
			break
		}
	}
	t := strings.Join(out, "\n")
	if len(t) > maxDiagChars {
		t = t[:maxDiagChars] + "…"
	}
	return t
}

// awsSecretEnv are the AWS credentials Terraform may get from the
// controller's environment or terraform.env.
var awsSecretEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

// secretNameParts mark variables of the controller's environment whose
// values are secrets too (TF_TOKEN_*, AWS_*_KEY, …).
var secretNameParts = []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "SESSION", "AUTH"}

// envSecrets lists the secret values of Terraform's environment env: every
// value terraform.env (extra) sets, whatever its name, the AWS credentials,
// and the values of variables whose names look secret.
func envSecrets(extra, env map[string]string) []string {
	var out []string
	for _, v := range extra {
		out = append(out, v)
	}
	for _, k := range awsSecretEnv {
		out = append(out, env[k])
	}
	for k, v := range env {
		uk := strings.ToUpper(k)
		for _, p := range secretNameParts {
			if strings.Contains(uk, p) {
				out = append(out, v)
				break
			}
		}
	}
	return out
}
