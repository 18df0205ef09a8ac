// Command driftless is a GitOps reconciliation controller that runs outside
// Kubernetes: `driftless run` is the daemon; the other commands validate
// manifests, plan offline, or talk to a running daemon over its API.
package main

import (
	"os"

	"github.com/driftless/driftless/internal/dropexec"
)

func main() {
	dropexec.Main() // started to run terraform as terraform.run_as: never returns
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
