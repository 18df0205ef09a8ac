package appliers

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ErrOutsideRepo is returned (wrapped in *fs.PathError) by a repository tree
// when a path leads out of the repository, e.g. through a symbolic link.
// sources.ErrOutsideRepo is the same value.
var ErrOutsideRepo = errors.New("path leads outside the repository")

// PathKind says what CheckPath expects to find.
type PathKind int

const (
	AnyPath PathKind = iota
	FilePath
	DirPath
)

// CleanPath normalises a repo-relative path from a manifest and rejects one
// that is absolute or climbs out of the repository with "..".
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("path is empty")
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':') {
		return "", fmt.Errorf("path %q is absolute; paths are relative to the repository root", p)
	}
	c := path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path %q escapes the repository", p)
	}
	return c, nil
}

// CheckPath validates a repo-relative path from attribute rng: it must stay
// inside the repository (no "..", not absolute, no symlink pointing out) and
// exist in tree with the wanted kind. It returns the cleaned path.
func CheckPath(tree fs.FS, p string, kind PathKind, rng hcl.Range) (string, hcl.Diagnostics) {
	c, err := CleanPath(p)
	if err != nil {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid path", Detail: err.Error(), Subject: rng.Ptr()}}
	}
	fi, err := fs.Stat(tree, c)
	switch {
	case errors.Is(err, ErrOutsideRepo):
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid path", Detail: fmt.Sprintf("path %q leads outside the repository through a symbolic link", p), Subject: rng.Ptr()}}
	case errors.Is(err, fs.ErrNotExist):
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing path", Detail: fmt.Sprintf("%q does not exist in the repository", p), Subject: rng.Ptr()}}
	case err != nil:
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unreadable path", Detail: fmt.Sprintf("%q: %v", p, err), Subject: rng.Ptr()}}
	}
	if kind == DirPath && !fi.IsDir() {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a directory", Detail: fmt.Sprintf("%q is a file; a directory is expected", p), Subject: rng.Ptr()}}
	}
	if kind == FilePath && fi.IsDir() {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Not a file", Detail: fmt.Sprintf("%q is a directory; a file is expected", p), Subject: rng.Ptr()}}
	}
	return c, nil
}
