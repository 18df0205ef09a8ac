//go:build !unix

package terraform

import "os"

// Without flock only the process-wide lock serialises inits.
func tryFlock(*os.File, bool) (bool, error) { return true, nil }

func unflock(*os.File) {}
