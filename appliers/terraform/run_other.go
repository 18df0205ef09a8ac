//go:build !linux

package terraform

import "syscall"

// procAttr: the defaults (Pdeathsig is Linux only).
func procAttr() *syscall.SysProcAttr { return nil }
