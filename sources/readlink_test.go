package sources

import (
	"errors"
	"io/fs"
	"testing"
)

// Trees are fs.ReadLinkFS: Lstat tells a link from what it leads to (the
// manifest loader relies on it to know when a read went through a link),
// ReadLink gives its target as committed.
func TestTreeLstatAndReadLink(t *testing.T) {
	for kind, tree := range fixtureTrees(t) {
		t.Run(kind, func(t *testing.T) {
			lfs, ok := tree.(fs.ReadLinkFS)
			if !ok {
				t.Fatalf("%T is not an fs.ReadLinkFS", tree)
			}
			for path, want := range map[string]fs.FileMode{
				"README.md": 0, "apps/web": fs.ModeDir, "linkdir": fs.ModeSymlink, "apps/api/mod.tf": fs.ModeSymlink,
				"escape": fs.ModeSymlink, "dangling": fs.ModeSymlink, "linkdir/main.tf": 0, // through a link
			} {
				fi, err := lfs.Lstat(path)
				if err != nil {
					t.Errorf("Lstat(%s): %v", path, err)
					continue
				}
				if got := fi.Mode().Type(); got != want {
					t.Errorf("Lstat(%s): type %v, want %v", path, got, want)
				}
			}
			if fi, err := fs.Stat(tree, "linkdir"); err != nil || !fi.IsDir() {
				t.Errorf("Stat(linkdir) = %v, %v; want the directory it leads to", fi, err)
			}
			for path, want := range map[string]string{"apps/api/mod.tf": "../../shared/mod.tf", "linkdir": "apps/web"} {
				if got, err := lfs.ReadLink(path); err != nil || got != want {
					t.Errorf("ReadLink(%s) = %q, %v; want %q", path, got, err, want)
				}
			}
			// An absolute target is outside the repository whatever it is; a
			// tree on disk does not tell the host's path.
			if got, err := lfs.ReadLink("abs"); err != nil || got == "" || got[0] != '/' {
				t.Errorf("ReadLink(abs) = %q, %v; want an absolute path", got, err)
			}
			if _, err := lfs.ReadLink("README.md"); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("ReadLink of a file: %v; want fs.ErrInvalid", err)
			}
			if _, err := lfs.Lstat("nope/x"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lstat of a missing path: %v; want fs.ErrNotExist", err)
			}
		})
	}
}
