package sources

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// maxLinkHops bounds how many symbolic links one path resolution follows, as
// the kernel's ELOOP limit does.
const maxLinkHops = 40

// errLinkLoop reports a chain of symbolic links longer than maxLinkHops.
var errLinkLoop = errors.New("too many levels of symbolic links")

// nodeKind is what a directory entry is, before links are followed.
type nodeKind int

const (
	kindFile nodeKind = iota
	kindDir
	kindSymlink
)

// node is one entry of a tree, in a backend's terms: a Git object (hash) or
// a path on disk (osPath).
type node struct {
	kind  nodeKind
	exec  bool
	ref   string    // backend handle: object hash (git) or OS path (disk)
	size  int64     // -1 when unknown until asked
	mtime time.Time // modification time reported by Stat
}

// dirent is a named node as listed from a directory.
type dirent struct {
	name string
	n    node
}

// backend is the storage under a linkFS: a Git tree or a directory on disk.
// Implementations must be safe for concurrent use.
type backend interface {
	root() (node, error)
	// lookup finds name in directory dir; fs.ErrNotExist when absent.
	lookup(dir node, name string) (node, error)
	// readlink returns a symbolic link's target, slash-separated.
	readlink(link node) (string, error)
	// list returns a directory's entries in any order.
	list(dir node) ([]dirent, error)
	// read returns a regular file's content.
	read(file node) ([]byte, error)
	// size returns a regular file's size.
	size(file node) (int64, error)
}

// linkFS is an fs.FS over a backend that follows symbolic links while they
// stay inside the root and refuses those that lead out with ErrOutsideRepo.
type linkFS struct {
	b backend
}

var (
	_ fs.FS         = linkFS{}
	_ fs.ReadDirFS  = linkFS{}
	_ fs.ReadFileFS = linkFS{}
	_ fs.StatFS     = linkFS{}
	_ fs.ReadLinkFS = linkFS{}
)

// resolution is where a path led.
type resolution struct {
	n    node
	real []string // the real path's components below the root
	// visited holds the real directories that each component of the
	// requested path resolved to (the root first): a link to any of them, or
	// to one of their ancestors, would make a recursive walk endless.
	visited [][]string
}

func splitPath(p string) []string {
	if p == "" || p == "." {
		return nil
	}
	return strings.Split(p, "/")
}

// resolve walks name from the root. Links met on the way are followed; the
// last component's link only when followLast is set.
func (f linkFS) resolve(name string, followLast bool) (resolution, error) {
	root, err := f.b.root()
	if err != nil {
		return resolution{}, err
	}
	nodes := []node{root}      // nodes[i+1] is the node of real[i]
	var real []string          // real components below the root
	todo := splitPath(name)    // components still to walk
	fromLinks := 0             // how many leading todo items came from link targets
	visited := [][]string{nil} // the root
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		fromLink := fromLinks > 0
		if fromLink {
			fromLinks--
		}
		cur := nodes[len(nodes)-1]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur.kind != kindDir {
				return resolution{}, fs.ErrNotExist
			}
			if len(real) == 0 {
				return resolution{}, ErrOutsideRepo
			}
			real = real[:len(real)-1]
			nodes = nodes[:len(nodes)-1]
			continue
		}
		if cur.kind != kindDir {
			return resolution{}, fs.ErrNotExist // not a directory
		}
		n, err := f.b.lookup(cur, c)
		if err != nil {
			return resolution{}, err
		}
		if n.kind == kindSymlink && (len(todo) > 0 || followLast) {
			hops++
			if hops > maxLinkHops {
				return resolution{}, errLinkLoop
			}
			target, err := f.b.readlink(n)
			if err != nil {
				return resolution{}, err
			}
			if target == "" {
				return resolution{}, fs.ErrNotExist
			}
			if strings.HasPrefix(target, "/") {
				return resolution{}, ErrOutsideRepo
			}
			parts := splitPath(target)
			todo = append(parts, todo...)
			fromLinks += len(parts)
			continue
		}
		real = append(real, c)
		nodes = append(nodes, n)
		if fromLinks == 0 && n.kind == kindDir {
			visited = append(visited, slices.Clone(real))
		}
	}
	return resolution{n: nodes[len(nodes)-1], real: real, visited: visited}, nil
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (f linkFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("open", name, fs.ErrInvalid)
	}
	r, err := f.resolve(name, true)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	info, err := f.info(path.Base(name), r.n, false)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if r.n.kind == kindDir {
		return &openDir{fsys: f, path: name, info: info}, nil
	}
	data, err := f.b.read(r.n)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	info.size = int64(len(data))
	return &openFile{info: info, Reader: bytes.NewReader(data)}, nil
}

func (f linkFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("readfile", name, fs.ErrInvalid)
	}
	r, err := f.resolve(name, true)
	if err != nil {
		return nil, pathErr("readfile", name, err)
	}
	if r.n.kind == kindDir {
		return nil, pathErr("readfile", name, errors.New("is a directory"))
	}
	data, err := f.b.read(r.n)
	if err != nil {
		return nil, pathErr("readfile", name, err)
	}
	return data, nil
}

func (f linkFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("stat", name, fs.ErrInvalid)
	}
	r, err := f.resolve(name, true)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	info, err := f.info(path.Base(name), r.n, true)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return info, nil
}

// Lstat is Stat without following name itself when it is a symbolic link
// (links among its parent directories are followed).
func (f linkFS) Lstat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("lstat", name, fs.ErrInvalid)
	}
	r, err := f.resolve(name, false)
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	info, err := f.info(path.Base(name), r.n, true)
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	return info, nil
}

// ReadLink returns the target of the symbolic link name, as recorded (an
// absolute target of a tree on disk reads as "/": it leads outside the
// repository, and the host's paths are not told).
func (f linkFS) ReadLink(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", pathErr("readlink", name, fs.ErrInvalid)
	}
	r, err := f.resolve(name, false)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	if r.n.kind != kindSymlink {
		return "", pathErr("readlink", name, fs.ErrInvalid)
	}
	t, err := f.b.readlink(r.n)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	return t, nil
}

// ReadDir lists a directory sorted by name. An entry that is a symbolic link
// is reported as what it resolves to (so fs.WalkDir descends into linked
// directories and sees linked files as regular files), except when the link
// leads outside the root, dangles, loops, or points at a directory that
// contains it (which would make a walk endless): such entries keep
// fs.ModeSymlink, and opening them returns the error.
func (f linkFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("readdir", name, fs.ErrInvalid)
	}
	r, err := f.resolve(name, true)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	if r.n.kind != kindDir {
		return nil, pathErr("readdir", name, errors.New("not a directory"))
	}
	ents, err := f.readDir(r)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	return ents, nil
}

func (f linkFS) readDir(r resolution) ([]fs.DirEntry, error) {
	raw, err := f.b.list(r.n)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(raw, func(a, b dirent) int { return strings.Compare(a.name, b.name) })
	out := make([]fs.DirEntry, 0, len(raw))
	for _, e := range raw {
		n := e.n
		if n.kind == kindSymlink {
			if t, ok := f.followEntry(r, e.name); ok {
				n = t
			}
		}
		out = append(out, &dirEntry{fsys: f, name: e.name, n: n})
	}
	return out, nil
}

// followEntry resolves the link name in the directory r; ok is false when
// the link should be reported as a link (see ReadDir).
func (f linkFS) followEntry(r resolution, name string) (node, bool) {
	t, err := f.resolve(path.Join(append(slices.Clone(r.real), name)...), true)
	if err != nil {
		return node{}, false
	}
	if t.n.kind == kindDir {
		for _, v := range r.visited {
			if isPrefix(t.real, v) {
				return node{}, false
			}
		}
		if isPrefix(t.real, r.real) {
			return node{}, false
		}
	}
	return t.n, true
}

// isPrefix reports whether dir a is b or an ancestor of b.
func isPrefix(a, b []string) bool {
	return len(a) <= len(b) && slices.Equal(a, b[:len(a)])
}

func (f linkFS) info(name string, n node, wantSize bool) (*fileInfo, error) {
	fi := &fileInfo{name: name, n: n, size: n.size}
	if n.kind == kindFile && fi.size < 0 && wantSize {
		s, err := f.b.size(n)
		if err != nil {
			return nil, err
		}
		fi.size = s
	}
	if fi.size < 0 {
		fi.size = 0
	}
	return fi, nil
}

// fileInfo describes a node. Modes are normalised the way Git records them:
// directories 0755, files 0644 or 0755 when executable, links 0777.
type fileInfo struct {
	name string
	n    node
	size int64
}

func (i *fileInfo) Name() string { return i.name }
func (i *fileInfo) Size() int64 {
	if i.n.kind == kindDir {
		return 0
	}
	return i.size
}
func (i *fileInfo) Mode() fs.FileMode  { return modeOf(i.n) }
func (i *fileInfo) ModTime() time.Time { return i.n.mtime }
func (i *fileInfo) IsDir() bool        { return i.n.kind == kindDir }
func (i *fileInfo) Sys() any           { return nil }
func (i *fileInfo) String() string     { return fs.FormatFileInfo(i) }

func modeOf(n node) fs.FileMode {
	switch n.kind {
	case kindDir:
		return fs.ModeDir | 0o755
	case kindSymlink:
		return fs.ModeSymlink | 0o777
	}
	if n.exec {
		return 0o755
	}
	return 0o644
}

type dirEntry struct {
	fsys linkFS
	name string
	n    node
}

func (d *dirEntry) Name() string      { return d.name }
func (d *dirEntry) IsDir() bool       { return d.n.kind == kindDir }
func (d *dirEntry) Type() fs.FileMode { return modeOf(d.n).Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) {
	return d.fsys.info(d.name, d.n, true)
}
func (d *dirEntry) String() string { return fs.FormatDirEntry(d) }

// openFile is a regular file read into memory.
type openFile struct {
	info *fileInfo
	*bytes.Reader
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Close() error               { return nil }

// openDir is a directory; its entries are read on the first ReadDir.
type openDir struct {
	fsys    linkFS
	path    string
	info    *fileInfo
	entries []fs.DirEntry
	loaded  bool
	off     int
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *openDir) Close() error               { return nil }
func (d *openDir) Read([]byte) (int, error) {
	return 0, pathErr("read", d.path, errors.New("is a directory"))
}

func (d *openDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.loaded {
		ents, err := d.fsys.ReadDir(d.path)
		if err != nil {
			return nil, err
		}
		d.entries, d.loaded = ents, true
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
