package manifest

import (
	"bytes"
	"io/fs"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Previous is what Reload may reuse: the desired state of the revision
// loaded before (loaded by the same Loader, from the same directory), and
// the repo-relative paths that differ between that revision's tree and the
// tree being loaded (sources.Repo.ChangedPaths).
type Previous struct {
	Desired *Desired
	Changed []string
}

// Reload is Load for a revision that follows prev.Desired: a manifest file
// whose bytes are unchanged is not parsed again, and an app is not decoded
// again when nothing its decoding read changed — its block is
// byte-identical at the same place, no changed path is at, above or under
// a path its applier's Decode or its functions (file, fileexists) read,
// and none of those reads went through a symbolic link. Such an app is the
// previous revision's *App itself when its dependencies and settings are
// the same too. Every other app, and every check across apps (references,
// dependency cycles), is evaluated afresh, so the result is what Load
// would return.
func (l *Loader) Reload(repo string, tree fs.FS, dir string, prev Previous) (*Desired, hcl.Diagnostics) {
	return l.load(repo, tree, dir, newReuser(l, repo, dir, prev))
}

// reuser answers, during one Reload, what can be taken from the previous
// revision.
type reuser struct {
	prev    *Desired
	changed map[string]bool // the changed paths
	above   map[string]bool // the changed paths and every directory above one
}

func newReuser(l *Loader, repo, dir string, prev Previous) *reuser {
	p := prev.Desired
	if p == nil || p.loader != l || p.Repo != repo || p.Dir != cleanDir(dir) {
		return nil
	}
	r := &reuser{prev: p, changed: map[string]bool{}, above: map[string]bool{}}
	for _, c := range prev.Changed {
		c = strings.Trim(c, "/")
		r.changed[c] = true
		for d := c; d != "." && d != ""; d = path.Dir(d) {
			r.above[d] = true
		}
	}
	return r
}

// file returns the previous parse of manifest file name when its bytes
// are src.
func (r *reuser) file(name string, src []byte) (parsedFile, bool) {
	if r == nil {
		return parsedFile{}, false
	}
	f, ok := r.prev.parsed[name]
	if !ok || !bytes.Equal(f.file.Bytes, src) {
		return parsedFile{}, false
	}
	return f, true
}

// blockSrc is the source text of a block, from its type to its closing
// brace, and where it lies in its file.
type blockSrc struct {
	rng  hcl.Range
	text []byte
}

func blockSource(f *hcl.File, b *hcl.Block) blockSrc {
	sb, ok := b.Body.(*hclsyntax.Body)
	if f == nil || !ok {
		return blockSrc{}
	}
	start, end := b.DefRange.Start, sb.SrcRange.End
	if start.Byte < 0 || end.Byte > len(f.Bytes) || start.Byte >= end.Byte {
		return blockSrc{}
	}
	return blockSrc{rng: hcl.Range{Filename: b.DefRange.Filename, Start: start, End: end}, text: f.Bytes[start.Byte:end.Byte]}
}

// same reports whether two blocks have the same text at the same place.
func (s blockSrc) same(o blockSrc) bool {
	return s.text != nil && s.rng == o.rng && bytes.Equal(s.text, o.text)
}

// app returns the previous revision's app of a's name when its decoded
// spec still holds for a (see Reload), else nil.
func (r *reuser) app(a *App) *App {
	if r == nil {
		return nil
	}
	p, ok := r.prev.Apps[a.Name]
	if !ok || p.Kind != a.Kind || p.File != a.File || p.DefRange != a.DefRange || p.Spec == nil ||
		p.reads == nil || !p.reads.traced || !a.src.same(p.src) {
		return nil
	}
	for _, rd := range p.reads.paths {
		if r.touched(rd) {
			return nil
		}
	}
	return p
}

// sameApps reports whether d declares the apps (names and kinds) that
// the previous revision did: then an app's references and dependencies
// resolve as they did.
func (r *reuser) sameApps(d *Desired) bool {
	if r == nil || len(r.prev.Apps) != len(d.Apps) {
		return false
	}
	for name, a := range d.Apps {
		if p, ok := r.prev.Apps[name]; !ok || p.Kind != a.Kind {
			return false
		}
	}
	return true
}

// sameOrder reports whether d's apps depend on each other as the
// previous revision's did (same apps, same dependencies): then their
// order is the same.
func (r *reuser) sameOrder(d *Desired) bool {
	if !r.sameApps(d) || r.prev.Order == nil {
		return false
	}
	for name, a := range d.Apps {
		if p := r.prev.Apps[name]; a != p && !equalStrings(a.DependsOn, p.DependsOn) {
			return false
		}
	}
	return true
}

// touched reports whether a changed path is p, lies under p, or is a
// directory above p (replaced by a file or a link).
func (r *reuser) touched(p string) bool {
	if p == "." || p == "" {
		return len(r.changed) > 0
	}
	if r.above[p] {
		return true
	}
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if r.changed[d] {
			return true
		}
	}
	return false
}

// sameApp reports whether a, freshly prepared, is p in everything the
// loader decides: then p itself stands for a.
func sameApp(a, p *App) bool {
	return a.Name == p.Name && a.Kind == p.Kind && a.File == p.File && a.DefRange == p.DefRange &&
		equalStrings(a.DependsOn, p.DependsOn) && equalStrings(a.Refs, p.Refs) &&
		a.SelfHeal == p.SelfHeal && equalStrings(a.IgnoreDrift, p.IgnoreDrift) && a.DriftInterval == p.DriftInterval
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reads are the tree paths one app's evaluation read (its applier's
// Decode, its functions), repo-relative.
type reads struct {
	paths  []string
	dirs   []string // listed
	traced bool     // every read was recorded and none went through a link
}

// tracingFS records, into the reads of the app being evaluated, every
// path read through it.
type tracingFS struct {
	fs.FS
	cur *reads // nil: not recording
}

func (t *tracingFS) note(name string, dir bool) {
	if t.cur == nil {
		return
	}
	t.cur.paths = append(t.cur.paths, path.Clean(name))
	if dir {
		t.cur.dirs = append(t.cur.dirs, path.Clean(name))
	}
}

func (t *tracingFS) Open(name string) (fs.File, error) {
	f, err := t.FS.Open(name)
	isDir := false
	if err == nil {
		if fi, serr := f.Stat(); serr == nil && fi.IsDir() {
			isDir = true // its entries may be listed through f
		}
	}
	t.note(name, isDir)
	return f, err
}

func (t *tracingFS) ReadFile(name string) ([]byte, error) {
	t.note(name, false)
	return fs.ReadFile(t.FS, name)
}

func (t *tracingFS) Stat(name string) (fs.FileInfo, error) {
	t.note(name, false)
	return fs.Stat(t.FS, name)
}

func (t *tracingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	t.note(name, true)
	return fs.ReadDir(t.FS, name)
}

// finish decides whether rd may be reused by a later Reload: only when
// the tree can tell symbolic links (fs.ReadLinkFS) and no path read, no
// directory above one, and no entry of a listed directory is a link — a
// link's target can change while the link itself does not.
func finish(tree fs.FS, rd *reads) {
	lfs, ok := tree.(fs.ReadLinkFS)
	if !ok {
		return
	}
	checked := map[string]bool{}
	isLink := func(p string) bool {
		if p == "." || checked[p] {
			return false
		}
		checked[p] = true
		fi, err := lfs.Lstat(p)
		return err == nil && fi.Mode()&fs.ModeSymlink != 0
	}
	for _, p := range rd.paths {
		if !fs.ValidPath(p) {
			return
		}
		for q := p; q != "."; q = path.Dir(q) {
			if isLink(q) {
				return
			}
		}
	}
	for _, d := range rd.dirs {
		ents, err := fs.ReadDir(tree, d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if isLink(path.Join(d, e.Name())) {
				return
			}
		}
	}
	rd.traced = true
}

func cleanDir(dir string) string {
	dir = strings.Trim(path.Clean("/"+dir), "/")
	if dir == "" {
		return "."
	}
	return dir
}
