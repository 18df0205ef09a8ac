package sources

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxCachedTrees bounds the decoded-tree cache; maxCachedDiffs objStore's
// cache of ChangedPaths results.
const (
	maxCachedTrees = 4096
	maxCachedDiffs = 256
)

// objStore is a read handle on the bare repository's object store. go-git's
// filesystem storage is not safe for concurrent use (its pack index, object
// cache and trees' lazily built entry maps are unguarded), so every access
// goes through mu. A fetch writes through a different handle (new packs
// appear as new files; existing ones are never modified), and a Poll that
// fetched opens a fresh objStore so that it sees the new packs: Revisions
// made earlier keep reading theirs (see packStorage for when their packs
// were merged away meanwhile).
type objStore struct {
	mu sync.Mutex
	s  *packStorage
	// trees holds the entries of the trees read, shared with the objStores
	// that replace this one, like blobs and idx: a commit's fetch opens a
	// new store, and the diff against the previous commit would otherwise
	// decode its trees again (a 1,000-stack directory is a 1,000-entry
	// tree).
	trees *treeCache
	// diffs memoises ChangedPaths by commit pair: the reconciler asks for
	// the same pair once per app (commits are immutable, so it never goes
	// stale).
	diffs map[[2]plumbing.Hash][]string
	// blobs and idx are shared with the objStores that replace this one.
	blobs *blobCache
	idx   *idxCache
	// head is the tracked branch's commit as of the last Poll that used
	// this store (guarded by Repo.mu, set before the store is published).
	head string
	// newest returns the repository's current objStore (Repo.store): the
	// one that sees packs merged after this store loaded its index.
	newest func() *objStore
}

// maxOpenPacks is how many pack files an objStore keeps open.
const maxOpenPacks = 8

// Bounds of the blob cache: blobs up to maxCachedBlob bytes are kept, up
// to maxBlobCache bytes in all (then it starts again empty).
const (
	maxCachedBlob = 64 << 10
	maxBlobCache  = 16 << 20
)

// blobCache keeps the content of small blobs, which every load of a
// revision reads again (manifests, stack files) though few changed. Blobs
// are immutable, so the cache outlives the objStore: the one a fetch opens
// takes it over.
type blobCache struct {
	mu   sync.Mutex
	m    map[plumbing.Hash][]byte
	size int
}

// get returns a copy of blob h's content, if cached.
func (c *blobCache) get(h plumbing.Hash) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[h]
	return slices.Clone(b), ok
}

func (c *blobCache) add(h plumbing.Hash, data []byte) {
	if len(data) > maxCachedBlob {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.size+len(data) > maxBlobCache {
		c.m, c.size = map[plumbing.Hash][]byte{}, 0
	}
	if _, ok := c.m[h]; !ok {
		c.m[h] = slices.Clone(data)
		c.size += len(data)
	}
}

// newObjStore opens a read handle on the object store in dir. It takes
// over the caches of prev, the handle it replaces (nil: none), its head
// and its newest. Packs in hide are left out of its index (packs being
// merged away: see Repo.mergePacks).
//
// The index of every pack is loaded here rather than on the first read:
// callers hold Repo.pollMu (or are Open), so the listing of the pack
// directory never runs while a merge deletes packs, which could otherwise
// leave the store with an index that misses objects.
func newObjStore(dir string, prev *objStore, hide map[plumbing.Hash]bool) *objStore {
	o := &objStore{
		blobs: &blobCache{},
		idx:   &idxCache{},
		trees: &treeCache{},
		diffs: make(map[[2]plumbing.Hash][]string),
	}
	if prev != nil {
		o.blobs, o.idx, o.trees, o.head, o.newest = prev.blobs, prev.idx, prev.trees, prev.head, prev.newest
	}
	// Pack files stay open between reads (a few; the least recently used
	// is closed): a pass over 1,000 apps reads thousands of objects, each
	// of which would open and close its pack.
	fsys := idxFS{Filesystem: osfs.New(dir), cache: o.idx, hide: hide}
	o.s = &packStorage{o: o, Storage: filesystem.NewStorageWithOptions(fsys, cache.NewObjectLRUDefault(),
		filesystem.Options{MaxOpenDescriptors: maxOpenPacks})}
	// HasEncodedObject loads the pack indexes (a loose object named by the
	// zero hash never exists). A failure here would fail the reads too.
	_ = o.s.HasEncodedObject(plumbing.ZeroHash)
	return o
}

func (o *objStore) commit(h plumbing.Hash) (*object.Commit, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return object.GetCommit(o.s, h)
}

// tree returns the entries of tree h, which the caller must not modify;
// o.mu must be held.
func (o *objStore) tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if e, ok := o.trees.get(h); ok {
		return e, nil
	}
	t, err := object.GetTree(o.s, h)
	if err != nil {
		return nil, err
	}
	o.trees.add(h, t.Entries)
	return t.Entries, nil
}

// treeCache keeps the entries of decoded trees. Trees are immutable, so
// the cache outlives the objStore (see blobCache); it holds entries only,
// not go-git's Tree, which reads through the store that decoded it.
type treeCache struct {
	mu sync.Mutex
	m  map[plumbing.Hash][]object.TreeEntry
}

func (c *treeCache) get(h plumbing.Hash) ([]object.TreeEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	return e, ok
}

func (c *treeCache) add(h plumbing.Hash, entries []object.TreeEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedTrees {
		c.m = make(map[plumbing.Hash][]object.TreeEntry)
	}
	c.m[h] = entries
}

// gitTree is the backend of a Revision's Tree.
type gitTree struct {
	o        *objStore
	rootHash plumbing.Hash
	mtime    time.Time
}

func newGitTreeFS(o *objStore, root plumbing.Hash, mtime time.Time) fs.FS {
	return linkFS{b: &gitTree{o: o, rootHash: root, mtime: mtime}}
}

func (g *gitTree) root() (node, error) {
	return node{kind: kindDir, ref: g.rootHash.String(), mtime: g.mtime}, nil
}

func (g *gitTree) entryNode(e object.TreeEntry) (node, bool) {
	n := node{ref: e.Hash.String(), size: -1, mtime: g.mtime}
	switch e.Mode {
	case filemode.Dir:
		n.kind = kindDir
	case filemode.Regular, filemode.Deprecated:
		n.kind = kindFile
	case filemode.Executable:
		n.kind, n.exec = kindFile, true
	case filemode.Symlink:
		n.kind = kindSymlink
	default: // submodules: their commits are not in this repository
		return node{}, false
	}
	return n, true
}

func (g *gitTree) lookup(dir node, name string) (node, error) {
	g.o.mu.Lock()
	defer g.o.mu.Unlock()
	entries, err := g.o.tree(plumbing.NewHash(dir.ref))
	if err != nil {
		return node{}, fmt.Errorf("read tree %s: %w", dir.ref, err)
	}
	for _, e := range entries {
		if e.Name == name {
			if n, ok := g.entryNode(e); ok {
				return n, nil
			}
			break
		}
	}
	return node{}, fs.ErrNotExist
}

func (g *gitTree) list(dir node) ([]dirent, error) {
	g.o.mu.Lock()
	defer g.o.mu.Unlock()
	entries, err := g.o.tree(plumbing.NewHash(dir.ref))
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", dir.ref, err)
	}
	out := make([]dirent, 0, len(entries))
	for _, e := range entries {
		if n, ok := g.entryNode(e); ok {
			out = append(out, dirent{name: e.Name, n: n})
		}
	}
	return out, nil
}

func (g *gitTree) blob(ref string) ([]byte, error) {
	h := plumbing.NewHash(ref)
	if data, ok := g.o.blobs.get(h); ok {
		return data, nil
	}
	data, err := g.readBlob(h)
	if err != nil {
		return nil, err
	}
	g.o.blobs.add(h, data)
	return data, nil
}

func (g *gitTree) readBlob(h plumbing.Hash) ([]byte, error) {
	ref := h.String()
	g.o.mu.Lock()
	defer g.o.mu.Unlock()
	b, err := object.GetBlob(g.o.s, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", ref, err)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", ref, err)
	}
	data, err := io.ReadAll(rd)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", ref, err)
	}
	return data, nil
}

func (g *gitTree) readlink(link node) (string, error) {
	b, err := g.blob(link.ref)
	return string(b), err
}

func (g *gitTree) read(file node) ([]byte, error) {
	if file.kind != kindFile {
		return nil, errors.New("not a regular file")
	}
	return g.blob(file.ref)
}

func (g *gitTree) size(file node) (int64, error) {
	g.o.mu.Lock()
	defer g.o.mu.Unlock()
	obj, err := g.o.s.EncodedObject(plumbing.BlobObject, plumbing.NewHash(file.ref))
	if err != nil {
		return 0, fmt.Errorf("read blob %s: %w", file.ref, err)
	}
	return obj.Size(), nil
}
