package terraform

import (
	"os"
	"testing"

	"github.com/driftless/driftless/internal/dropexec"
	"github.com/driftless/driftless/internal/testenv"
)

// TestMain execs Terraform as another user when started for it (the run_as
// tests start Terraform through the test binary, as driftless does through
// its own executable), runs the non-root daemon of the leak test when asked
// to, and otherwise runs the tests.
func TestMain(m *testing.M) {
	dropexec.Main()
	if os.Getenv(leakDaemonEnv) != "" {
		os.Exit(leakDaemon())
	}
	os.Exit(testenv.RunMain(m))
}
