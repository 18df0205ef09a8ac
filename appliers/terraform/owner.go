package terraform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// RunAs is the Unix user every Terraform process runs as (Config.RunAs).
type RunAs struct {
	UID, GID int
	// Home is HOME in Terraform's environment; "" keeps the allow-listed
	// value.
	Home string
}

// Modes of what driftless creates under WorkDir. Stack work dirs are 0700
// and the files driftless writes in them 0600 (0700 for executables).
// Without run_as, everything is private to the daemon's user. With it, the
// directories on the way to a stack's work dir (state_dir, WorkDir,
// WorkDir/<repo>) are 0711: the run_as user may pass through them, not
// list them; the CLI config (no secrets) is 0644.
const (
	privateDir  = 0o700
	privateFile = 0o600
	passDir     = 0o711
	publicFile  = 0o644
)

// passMode is the mode of WorkDir and WorkDir/<repo>.
func (a *Applier) passMode() os.FileMode {
	if a.cfg.RunAs != nil {
		return passDir
	}
	return privateDir
}

// ensureDir creates dir with mode (or sets the mode of an existing one).
func ensureDir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// openStack makes sure the stack's work dir and its parent exist with
// their modes and, under run_as, hands the work dir to the run_as user for
// the operation that just locked it (st.mu held).
func (a *Applier) openStack(st *stack) error {
	if err := ensureDir(filepath.Dir(st.root), a.passMode()); err != nil {
		return err
	}
	if err := ensureDir(st.root, privateDir); err != nil {
		return err
	}
	return a.handOver(st)
}

// handOver gives everything in the stack's work dir to the run_as user
// (nothing without run_as): the directory itself and what driftless wrote
// since. Paths are resolved inside the work dir (os.Root), so a symbolic
// link Terraform code planted there cannot make driftless change the owner
// of anything outside it.
func (a *Applier) handOver(st *stack) error {
	ra := a.cfg.RunAs
	if ra == nil {
		return nil
	}
	if err := os.Lchown(st.root, ra.UID, ra.GID); err != nil {
		return fmt.Errorf("giving %s to the run_as user: %w", st.root, err)
	}
	r, err := os.OpenRoot(st.root)
	if err != nil {
		return err
	}
	defer r.Close()
	return chownTree(r, ra.UID, ra.GID)
}

// park takes the stack's work dir back from the run_as user between
// operations (root-owned, 0700): Terraform code of other stacks, which runs
// as the same user, cannot reach this stack's state, plans or var files
// (st.mu held).
func (a *Applier) park(st *stack) {
	if a.cfg.RunAs == nil {
		return
	}
	if err := os.Lchown(st.root, 0, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Error("taking the stack work dir back from the run_as user", "dir", st.root, "err", err)
	}
}

// chownTree gives every entry under r (not following symbolic links) to
// uid:gid. A directory already owned by them is not descended into when it
// is .terraform (Terraform created it, as that user).
func chownTree(r *os.Root, uid, gid int) error {
	return fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if ownedBy(fi, uid, gid) {
			if d.IsDir() && d.Name() == ".terraform" {
				return fs.SkipDir
			}
			return nil
		}
		if err := r.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}

// chownAll gives dir and everything under it to uid:gid (the plugin cache).
func chownAll(dir string, uid, gid int) error {
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	return chownTree(r, uid, gid)
}

// checkReachable tells whether uid:gid may traverse every directory from
// the file system root down to dir (inclusive).
func checkReachable(dir string, uid, gid int) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !canTraverse(fi, uid, gid) {
			return fmt.Errorf("%s (mode %v) cannot be entered by uid %d: run_as needs every directory above the work dirs to be traversable (for example state_dir with mode 0711)", d, fi.Mode().Perm(), uid)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// mkdirIn creates rel (OS-separated, inside root) and its missing parents
// 0700, resolving every path inside root.
func mkdirIn(root, rel string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.MkdirAll(filepath.ToSlash(rel), privateDir); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Join(root, rel), err)
	}
	return nil
}

// checkRunAs checks cfg.RunAs (nil: nothing to check) and returns the
// executable terraform-exec is to run: terraform itself, or, under run_as,
// the driftless executable that drops to the user and execs terraform.
func checkRunAs(cfg *Config, terraform string) (string, error) {
	ra := cfg.RunAs
	if ra == nil {
		return terraform, nil
	}
	if runtime.GOOS != "linux" {
		return "", errors.New("terraform run_as is supported on Linux only")
	}
	if ra.UID <= 0 || ra.GID <= 0 {
		return "", fmt.Errorf("terraform run_as: uid %d, gid %d: must be an unprivileged user", ra.UID, ra.GID)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("terraform run_as needs driftless to run as root (it runs as uid %d)", os.Geteuid())
	}
	self := cfg.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return "", fmt.Errorf("terraform run_as: finding the driftless executable: %w", err)
		}
	}
	return self, nil
}
