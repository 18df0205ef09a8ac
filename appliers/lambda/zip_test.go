package lambda

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestZipDirReproducible(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"fn/index.js":        "exports.handler = async () => 'ok'\n",
		"fn/lib/util.js":     "module.exports = {}\n",
		"fn/bin/run":         "#!/bin/sh\necho hi\n",
		"fn/node_modules/.x": "dot file\n",
		"other/ignored.txt":  "not in the zip\n",
	})
	if err := os.Chmod(filepath.Join(root, "fn/bin/run"), 0o700); err != nil {
		t.Fatal(err)
	}
	z1, sha1, err := ZipDir(os.DirFS(root), "fn")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(z1)
	if sha1 != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("sha %s is not base64(sha256(zip))", sha1)
	}

	// Same call again: same bytes.
	z2, sha2, err := ZipDir(os.DirFS(root), "fn")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(z1, z2) || sha1 != sha2 {
		t.Fatal("two zips of the same directory differ")
	}

	// Touch every file (new mtimes) and loosen modes: same bytes.
	later := time.Now().Add(48 * time.Hour)
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			os.Chtimes(p, later, later)
		}
		return nil
	})
	os.Chmod(filepath.Join(root, "fn/index.js"), 0o600)
	os.Chmod(filepath.Join(root, "fn/bin/run"), 0o755)
	z3, sha3, err := ZipDir(os.DirFS(root), "fn")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(z1, z3) || sha1 != sha3 {
		t.Fatal("touching mtimes or modes changed the zip")
	}

	// The same content in an in-memory tree (as a Git tree would give it),
	// listed in another order with other timestamps: same bytes.
	mem := fstest.MapFS{
		"x/fn/node_modules/.x": {Data: []byte("dot file\n"), ModTime: later},
		"x/fn/lib/util.js":     {Data: []byte("module.exports = {}\n"), Mode: 0o664},
		"x/fn/index.js":        {Data: []byte("exports.handler = async () => 'ok'\n")},
		"x/fn/bin/run":         {Data: []byte("#!/bin/sh\necho hi\n"), Mode: 0o755},
	}
	z4, sha4, err := ZipDir(mem, "x/fn")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(z1, z4) || sha1 != sha4 {
		t.Fatal("the same content from another file system zips differently")
	}

	// Entries: sorted, relative, fixed time and modes, deflated.
	zr, err := zip.NewReader(bytes.NewReader(z1), int64(len(z1)))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		mode os.FileMode
	}{{"bin/run", 0o755}, {"index.js", 0o644}, {"lib/util.js", 0o644}, {"node_modules/.x", 0o644}}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
	for i, f := range zr.File {
		if f.Name != want[i].name || f.Mode() != want[i].mode {
			t.Errorf("entry %d = %s %v, want %s %v", i, f.Name, f.Mode(), want[i].name, want[i].mode)
		}
		if !f.Modified.Equal(zipEpoch) || f.Method != zip.Deflate {
			t.Errorf("entry %s: modified %v method %d", f.Name, f.Modified, f.Method)
		}
	}
	rc, _ := zr.File[1].Open()
	b, _ := io.ReadAll(rc)
	if string(b) != "exports.handler = async () => 'ok'\n" {
		t.Errorf("index.js = %q", b)
	}

	// A changed file changes the hash.
	writeFiles(t, root, map[string]string{"fn/index.js": "exports.handler = async () => 'v2'\n"})
	_, sha5, err := ZipDir(os.DirFS(root), "fn")
	if err != nil {
		t.Fatal(err)
	}
	if sha5 == sha1 {
		t.Error("changed content, same hash")
	}
}

func TestZipDirEmpty(t *testing.T) {
	mem := fstest.MapFS{"empty/sub": {Mode: os.ModeDir | 0o755}}
	if _, _, err := ZipDir(mem, "empty"); !errors.Is(err, errEmptyDir) {
		t.Errorf("err = %v, want errEmptyDir", err)
	}
	if _, _, err := ZipDir(mem, "missing"); err == nil {
		t.Error("zip of a missing directory succeeded")
	}
}

func BenchmarkZipDir(b *testing.B) {
	mem := fstest.MapFS{}
	for i := range 200 {
		mem[filepath.ToSlash(filepath.Join("fn", "lib", string(rune('a'+i%26)), "f"+string(rune('a'+i/26))+".js"))] = &fstest.MapFile{Data: bytes.Repeat([]byte("console.log(1)\n"), 200)}
	}
	for b.Loop() {
		if _, _, err := ZipDir(mem, "fn"); err != nil {
			b.Fatal(err)
		}
	}
}
