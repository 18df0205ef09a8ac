package dropexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SetNonDumpable makes the calling process non-dumpable (prctl
// PR_SET_DUMPABLE 0): its /proc files become root-owned and processes
// without CAP_SYS_PTRACE, even of the same uid, cannot read its
// environment or memory. It also disables core dumps.
func SetNonDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}

func execAs(terraform, as string, args []string) error {
	if terraform == "" || !filepath.IsAbs(terraform) {
		return fmt.Errorf("%s=%q: want an absolute path", EnvTerraform, terraform)
	}
	uid, gid, err := ParseAs(as)
	if err != nil {
		return err
	}
	if uid == 0 || gid == 0 {
		return errors.New("refusing to run terraform as root through " + EnvAs)
	}
	// The parent-death signal terraform-exec asked for is cleared by the
	// credential change below; read it first to restore it.
	ppid := os.Getppid()
	var sig int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
		sig = 0
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("setgroups(%d): %w", gid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid(%d): %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid(%d): %w", uid, err)
	}
	if os.Getuid() != uid || os.Geteuid() != uid || os.Getgid() != gid || os.Getegid() != gid {
		return errors.New("credentials did not change")
	}
	if sig != 0 {
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
		}
		if os.Getppid() != ppid {
			return errors.New("parent exited")
		}
	}
	env := cleanEnv(os.Environ())
	argv := append([]string{terraform}, args...)
	return fmt.Errorf("exec %s: %w", terraform, syscall.Exec(terraform, argv, env))
}
