package main

import (
	"os"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// TestMain stops the processes testenv started (moto) when the tests end.
func TestMain(m *testing.M) { os.Exit(testenv.RunMain(m)) }
