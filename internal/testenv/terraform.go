package testenv

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TerraformBinary returns the path of terraform on PATH, or marks the test
// Unavailable.
func TerraformBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("terraform")
	if err != nil {
		Unavailable(t, "terraform not on PATH")
	}
	return p
}

var (
	mirrorOnce sync.Once
	mirrorRoot string
)

// ProviderMirror returns the root of a Terraform provider filesystem mirror
// (the folder holding registry.terraform.io) that has hashicorp/aws, or
// marks the test Unavailable. DRIFTLESS_TF_MIRROR overrides the search of
// /opt, /usr/share, /srv and / (4 levels deep).
func ProviderMirror(t testing.TB) string {
	t.Helper()
	mirrorOnce.Do(func() { mirrorRoot = findMirror() })
	if mirrorRoot == "" {
		Unavailable(t, "no Terraform provider mirror with registry.terraform.io/hashicorp/aws (set DRIFTLESS_TF_MIRROR)")
	}
	return mirrorRoot
}

func hasAWS(root string) bool {
	fi, err := os.Stat(filepath.Join(root, "registry.terraform.io", "hashicorp", "aws"))
	return err == nil && fi.IsDir()
}

func findMirror() string {
	if m := os.Getenv("DRIFTLESS_TF_MIRROR"); m != "" {
		if hasAWS(m) {
			return m
		}
		return ""
	}
	for _, base := range []string{"/opt", "/usr/share", "/srv", "/"} {
		if m := searchMirror(base, 4); m != "" {
			return m
		}
	}
	return ""
}

var skipRoots = map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/run": true, "/tmp": true}

func searchMirror(base string, maxDepth int) string {
	found := ""
	baseDepth := strings.Count(filepath.Clean(base), string(filepath.Separator))
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return fs.SkipDir
		}
		if !d.IsDir() {
			return nil
		}
		if skipRoots[p] {
			return fs.SkipDir
		}
		depth := strings.Count(filepath.Clean(p), string(filepath.Separator)) - baseDepth
		if base == "/" {
			depth++
		}
		if d.Name() == "registry.terraform.io" {
			if root := filepath.Dir(p); hasAWS(root) {
				found = root
				return fs.SkipAll
			}
			return fs.SkipDir
		}
		if depth >= maxDepth {
			return fs.SkipDir
		}
		return nil
	})
	return found
}
