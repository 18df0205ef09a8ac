package sources

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// LocalTree returns a directory on disk as an fs.FS with the semantics of a
// Revision's Tree: slash-separated paths relative to root, symbolic links
// followed while they resolve inside root and refused with ErrOutsideRepo
// (wrapped in *fs.PathError) when they lead out, modes normalised as Git
// records them. Entries named .git are neither listed nor opened. It is
// what `driftless validate` reads a work tree through.
func LocalTree(root string) fs.FS {
	return linkFS{b: localTree{dir: root}}
}

type localTree struct {
	dir string
}

func (l localTree) nodeOf(p string, fi fs.FileInfo) node {
	n := node{ref: p, size: fi.Size(), mtime: fi.ModTime()}
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		n.kind = kindSymlink
	case m.IsDir():
		n.kind, n.size = kindDir, 0
	default:
		n.kind, n.exec = kindFile, m.Perm()&0o111 != 0
	}
	return n
}

func (l localTree) root() (node, error) {
	fi, err := os.Stat(l.dir)
	if err != nil {
		return node{}, err
	}
	if !fi.IsDir() {
		return node{}, errors.New("tree root is not a directory")
	}
	return l.nodeOf(l.dir, fi), nil
}

func (l localTree) lookup(dir node, name string) (node, error) {
	if name == ".git" {
		return node{}, fs.ErrNotExist
	}
	p := filepath.Join(dir.ref, name)
	fi, err := os.Lstat(p)
	if err != nil {
		return node{}, unwrapOS(err)
	}
	return l.nodeOf(p, fi), nil
}

func (l localTree) readlink(link node) (string, error) {
	t, err := os.Readlink(link.ref)
	if err != nil {
		return "", unwrapOS(err)
	}
	if filepath.IsAbs(t) {
		return "/", nil // refused by the resolver as absolute
	}
	return filepath.ToSlash(t), nil
}

func (l localTree) list(dir node) ([]dirent, error) {
	ents, err := os.ReadDir(dir.ref)
	if err != nil {
		return nil, unwrapOS(err)
	}
	out := make([]dirent, 0, len(ents))
	for _, e := range ents {
		if e.Name() == ".git" {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since listed
			}
			return nil, unwrapOS(err)
		}
		out = append(out, dirent{name: e.Name(), n: l.nodeOf(filepath.Join(dir.ref, e.Name()), fi)})
	}
	return out, nil
}

func (l localTree) read(file node) ([]byte, error) {
	if file.kind != kindFile {
		return nil, errors.New("not a regular file")
	}
	b, err := os.ReadFile(file.ref)
	return b, unwrapOS(err)
}

func (l localTree) size(file node) (int64, error) { return file.size, nil }

// unwrapOS drops the *fs.PathError that os adds, whose path is an absolute
// OS path: the caller reports the path relative to the tree.
func unwrapOS(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
