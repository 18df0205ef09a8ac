package testenv

import (
	"os"
	"testing"
)

// Unavailable skips t (printing why) or, under CI, fails it: the integration
// suites must run in CI.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("required test component unavailable under CI: %s", why)
	}
	t.Skipf("skipping: %s (CI=true makes this a failure)", why)
}

// Short skips a slow end-to-end test under `go test -short`.
func Short(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping slow end-to-end test in -short mode")
	}
}
