package main

import (
	"os"
	"testing"

	"github.com/driftless/driftless/internal/dropexec"
	"github.com/driftless/driftless/internal/testenv"
)

// asDriftless, set in a child's environment, makes the test binary run as
// the driftless command itself: tests start real `driftless run` processes
// (and kill them with SIGKILL) without building a separate binary.
const asDriftless = "DRIFTLESS_TEST_AS_MAIN"

// TestMain execs Terraform as another user or runs as driftless when asked to, and otherwise runs the tests
// and stops the processes testenv started (moto) when they end.
func TestMain(m *testing.M) {
	dropexec.Main() // as main does: Terraform under terraform.run_as
	if os.Getenv(asDriftless) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(testenv.RunMain(m))
}
