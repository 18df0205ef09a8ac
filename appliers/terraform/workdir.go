package terraform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Names inside a stack's work directory WorkDir/<repo>/<app>/.
const (
	srcDir       = "src"        // mirror of the repo layout
	manifestFile = "files.json" // files materialised under src/, with hashes
	initFile     = "init.json"  // fingerprint of the last successful init
	varsFile     = "vars.tfvars.json"
)

// skipInTree reports whether a repository path must not be materialised:
// Terraform's own data and local state in the work dir win over anything
// committed by mistake.
func skipInTree(name string) bool {
	switch name {
	case ".terraform", "terraform.tfstate", "terraform.tfstate.backup", ".terraform.tfstate.lock.info", "terraform.tfstate.d":
		return true
	}
	return false
}

// collectFiles reads the files a stack needs from tree: its directory and
// the module directories recursively, and the var files. Keys are
// repo-relative paths.
func collectFiles(tree fs.FS, spec *Spec) (map[string]srcFile, error) {
	files := map[string]srcFile{}
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > 64 {
			return fmt.Errorf("%s: directory nesting too deep", dir)
		}
		entries, err := fs.ReadDir(tree, dir)
		if err != nil {
			return fmt.Errorf("reading %s: %w", dir, err)
		}
		for _, e := range entries {
			if skipInTree(e.Name()) {
				continue
			}
			p := path.Join(dir, e.Name())
			isDir := e.IsDir()
			if e.Type()&fs.ModeSymlink != 0 {
				fi, err := fs.Stat(tree, p)
				if err != nil {
					return fmt.Errorf("reading %s: %w", p, err)
				}
				isDir = fi.IsDir()
			}
			if isDir {
				if err := walk(p, depth+1); err != nil {
					return err
				}
				continue
			}
			if _, ok := files[p]; ok {
				continue
			}
			f, err := readSrcFile(tree, p)
			if err != nil {
				return err
			}
			files[p] = f
		}
		return nil
	}
	for _, d := range append([]string{spec.Path}, spec.Modules...) {
		if err := walk(d, 0); err != nil {
			return nil, err
		}
	}
	for _, f := range spec.VarFiles {
		if _, ok := files[f]; ok {
			continue
		}
		sf, err := readSrcFile(tree, f)
		if err != nil {
			return nil, err
		}
		files[f] = sf
	}
	return files, nil
}

// srcFile is one file to materialise.
type srcFile struct {
	data []byte
	exec bool // executable bit (scripts called by local-exec)
}

func readSrcFile(tree fs.FS, p string) (srcFile, error) {
	b, err := fs.ReadFile(tree, p)
	if err != nil {
		return srcFile{}, fmt.Errorf("reading %s: %w", p, err)
	}
	exec := false
	if fi, err := fs.Stat(tree, p); err == nil {
		exec = fi.Mode()&0o111 != 0
	}
	return srcFile{data: b, exec: exec}, nil
}

// syncStats tells what a sync did.
type syncStats struct{ Written, Removed int }

// syncTree makes root/src hold exactly files (as far as files materialised
// by earlier syncs go): files whose content changed are rewritten
// atomically, files that disappeared are removed, and anything else under
// src (Terraform's .terraform, lock file, local state) is left alone. The
// list of materialised files is kept in root/files.json. Files are written
// 0600 (0700 when executable) in 0700 directories. Every path is resolved
// inside root (os.Root): a symbolic link left in the work dir by Terraform
// code cannot redirect a write, a chmod or a removal outside it.
func syncTree(root string, files map[string]srcFile) (syncStats, error) {
	var st syncStats
	if err := os.MkdirAll(root, privateDir); err != nil {
		return st, fmt.Errorf("creating %s: %w", root, err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return st, err
	}
	defer r.Close()
	old := map[string]string{}
	if b, err := r.ReadFile(manifestFile); err == nil {
		if err := json.Unmarshal(b, &old); err != nil {
			old = map[string]string{} // rewrite everything
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("reading work dir manifest: %w", err)
	}
	now := make(map[string]string, len(files))
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[name]
		sum := sha256.Sum256(f.data)
		h := hex.EncodeToString(sum[:])
		perm := os.FileMode(privateFile)
		if f.exec {
			h += "+x"
			perm = privateDir
		}
		now[name] = h
		dst := path.Join(srcDir, name)
		if old[name] == h {
			if fi, err := r.Lstat(dst); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == perm {
				continue
			}
		}
		if fi, err := r.Lstat(dst); err == nil && fi.Mode().IsRegular() {
			if cur, err := r.ReadFile(dst); err == nil && bytes.Equal(cur, f.data) {
				if err := r.Chmod(dst, perm); err != nil {
					return st, fmt.Errorf("chmod %s: %w", dst, err)
				}
				continue
			}
		}
		if err := writeIn(r, dst, f.data, perm); err != nil {
			return st, err
		}
		st.Written++
	}
	for name := range old {
		if _, ok := now[name]; ok {
			continue
		}
		dst := path.Join(srcDir, name)
		if err := r.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("removing %s: %w", name, err)
		}
		st.Removed++
		pruneEmptyDirs(r, path.Dir(dst))
	}
	b, err := json.Marshal(now)
	if err != nil {
		return st, err
	}
	if cur, err := r.ReadFile(manifestFile); err == nil && bytes.Equal(cur, b) {
		return st, nil
	}
	return st, writeIn(r, manifestFile, b, privateFile)
}

// pruneEmptyDirs removes dir (slash-separated, inside r) and its parents up
// to (not including) src while they are empty.
func pruneEmptyDirs(r *os.Root, dir string) {
	for dir != srcDir && strings.HasPrefix(dir, srcDir+"/") {
		if err := r.Remove(dir); err != nil { // fails when not empty
			return
		}
		dir = path.Dir(dir)
	}
}

// writeIn writes content to name (slash-separated, inside r) atomically,
// creating missing directories 0700.
func writeIn(r *os.Root, name string, content []byte, perm os.FileMode) error {
	if err := r.MkdirAll(path.Dir(name), privateDir); err != nil {
		return fmt.Errorf("creating %s: %w", path.Dir(name), err)
	}
	tmp := path.Join(path.Dir(name), ".driftless-"+randomToken())
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, name)
	}
	if err != nil {
		_ = r.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// writeFileAtomic writes content to dst with perm: a temporary file in the
// same directory (created 0700 when missing), renamed over dst.
func writeFileAtomic(dst string, content []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), privateDir); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".driftless-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}

// writeFileIfChanged writes content to dst with perm unless it already
// holds it (then only the mode is set).
func writeFileIfChanged(dst string, content []byte, perm os.FileMode) error {
	if cur, err := os.ReadFile(dst); err == nil && bytes.Equal(cur, content) {
		return os.Chmod(dst, perm)
	}
	return writeFileAtomic(dst, content, perm)
}

// writeInIfChanged writes content to name in dir (resolved inside dir,
// see writeIn) unless it already holds it (then only the mode is set).
func writeInIfChanged(dir, name string, content []byte, perm os.FileMode) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	if fi, err := r.Lstat(name); err == nil && fi.Mode().IsRegular() {
		if cur, err := r.ReadFile(name); err == nil && bytes.Equal(cur, content) {
			return r.Chmod(name, perm)
		}
	}
	return writeIn(r, name, content, perm)
}

// safeName turns a repo or app name into one path element.
func safeName(s string) (string, error) {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`+"\x00") {
		return "", fmt.Errorf("invalid name %q for a work directory", s)
	}
	return s, nil
}
