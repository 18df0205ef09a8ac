//go:build linux

package terraform

import "syscall"

// procAttr puts Terraform in its own process group and kills it when the
// daemon dies, as terraform-exec does.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
