package terraform

import (
	"os"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }
