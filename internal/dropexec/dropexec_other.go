//go:build !linux

package dropexec

import "errors"

// SetNonDumpable does nothing outside Linux.
func SetNonDumpable() error { return nil }

func execAs(string, string, []string) error {
	return errors.New("running terraform as another user is supported on Linux only")
}
