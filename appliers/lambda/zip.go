package lambda

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"
)

// zipEpoch is the modification time of every zip entry: the earliest time
// the zip format can express, so that the archive does not depend on when
// the files were checked out.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// ZipDir zips the directory dir of fsys reproducibly: regular files only
// (no directory entries), sorted by path, named relative to dir, all dated
// 1980-01-01, mode 0755 when any execute bit is set and 0644 otherwise,
// deflated. The same content gives the same bytes whatever the files'
// timestamps or the order the file system lists them in. sha256b64 is the
// base64 of the archive's SHA-256, which is how Lambda reports CodeSha256.
//
// Symbolic links are followed as fsys follows them (a sources tree refuses
// links that lead out of the repository). The archive must hold at least one
// file.
func ZipDir(fsys fs.FS, dir string) (zipBytes []byte, sha256b64 string, err error) {
	type entry struct {
		name string // inside the archive
		path string // inside fsys
	}
	var entries []entry
	err = fs.WalkDir(fsys, dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel := p
		if dir != "." {
			rel = p[len(dir)+1:]
		}
		entries = append(entries, entry{name: rel, path: p})
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("zip %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil, "", fmt.Errorf("zip %s: %w", dir, errEmptyDir)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fi, err := fs.Stat(fsys, e.path) // follows links, like the read below
		if err != nil {
			return nil, "", fmt.Errorf("zip %s: %w", dir, err)
		}
		if fi.IsDir() {
			continue // a link to a directory: its files are not walked
		}
		if !fi.Mode().IsRegular() {
			return nil, "", fmt.Errorf("zip %s: %s is not a regular file", dir, e.path)
		}
		mode := fs.FileMode(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		h := &zip.FileHeader{Name: path.Clean(e.name), Method: zip.Deflate, Modified: zipEpoch}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, "", fmt.Errorf("zip %s: %w", dir, err)
		}
		f, err := fsys.Open(e.path)
		if err != nil {
			return nil, "", fmt.Errorf("zip %s: %w", dir, err)
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("zip %s: read %s: %w", dir, e.path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("zip %s: %w", dir, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), base64.StdEncoding.EncodeToString(sum[:]), nil
}

var errEmptyDir = errors.New("directory holds no files")
