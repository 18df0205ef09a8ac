package terraform

import (
	"os"
	"path/filepath"
	"testing"
)

// Terraform code owns its work dir under run_as and may leave symbolic
// links there; driftless's writes must never follow one out of it.
func TestSyncTreeStaysInsideWorkDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "stack")
	outside := t.TempDir()
	files := map[string]srcFile{"infra/a/main.tf": {data: []byte("a")}, "infra/0.tf": {data: []byte("secret-shaped")}}
	if _, err := syncTree(root, files); err != nil {
		t.Fatal(err)
	}
	// A file replaced by a link to an outside file with the same content:
	// the link is replaced, the outside file keeps its mode.
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("secret-shaped"), 0o640); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(root, srcDir, "infra", "0.tf")
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, b); err != nil {
		t.Fatal(err)
	}
	// A directory replaced by a link to an outside directory.
	a := filepath.Join(root, srcDir, "infra", "a")
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, a); err != nil {
		t.Fatal(err)
	}
	_, err := syncTree(root, files)
	if fi, serr := os.Stat(target); serr != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("outside file changed: %v %v", fi.Mode().Perm(), serr)
	}
	if _, serr := os.Stat(filepath.Join(outside, "main.tf")); serr == nil {
		t.Errorf("sync wrote main.tf through the link into %s", outside)
	}
	if err == nil {
		t.Errorf("sync through a link leaving the work dir succeeded")
	}
	if fi, err := os.Lstat(b); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != privateFile {
		t.Errorf("0.tf: %v %v, want a regular file 0600", fi.Mode(), err)
	}
}
