package sources

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// maxIdxCache bounds the bytes of pack index files idxCache keeps; past
// it, the cache starts again empty.
const maxIdxCache = 64 << 20

// idxCache keeps the content of the bare repository's pack index files
// (objects/pack/pack-<hash>.idx). Every fetch that transfers objects adds
// a pack, and the objStore that replaces the old one (to see it) loads the
// index of every pack again: go-git decodes each .idx file with hundreds
// of small unbuffered reads, which made that load grow by ≈0.15 ms per
// pack, per commit. A pack and its index are never modified once written
// (their names are their content's hash), so what was read once is served
// from memory to every later objStore.
type idxCache struct {
	mu   sync.Mutex
	m    map[string][]byte
	size int
}

// get returns the content of the index file at path, reading it on the
// first call.
func (c *idxCache) get(path string) ([]byte, error) {
	c.mu.Lock()
	b, ok := c.m[path]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.size+len(b) > maxIdxCache {
		c.m, c.size = map[string][]byte{}, 0
	}
	if _, ok := c.m[path]; !ok {
		c.m[path] = b
		c.size += len(b)
	}
	return b, nil
}

// drop forgets the index file at path (its pack was merged away).
func (c *idxCache) drop(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[path]; ok {
		delete(c.m, path)
		c.size -= len(b)
	}
}

// idxFS is the bare repository's file system as the objStore's go-git
// storage sees it: pack index files are served by the idxCache, every
// other file by the embedded file system (only read; fetches write through
// Repo.w). The packs in hide are left out of the pack directory's listing,
// so a store opened while they are being merged away never indexes them.
type idxFS struct {
	billy.Filesystem
	cache *idxCache
	hide  map[plumbing.Hash]bool
}

func (f idxFS) ReadDir(name string) ([]os.FileInfo, error) {
	infos, err := f.Filesystem.ReadDir(name)
	if err != nil || len(f.hide) == 0 || filepath.ToSlash(filepath.Clean(name)) != "objects/pack" {
		return infos, err
	}
	return slices.DeleteFunc(infos, func(fi os.FileInfo) bool {
		h, ok := packName(fi.Name(), ".pack")
		return ok && f.hide[h]
	}), nil
}

func (f idxFS) Open(name string) (billy.File, error) {
	if !isPackIdx(name) {
		return f.Filesystem.Open(name)
	}
	b, err := f.cache.get(filepath.Join(f.Root(), name))
	if err != nil {
		return nil, err // os.IsNotExist holds for a missing file, as go-git expects
	}
	return &memFile{name: name, Reader: bytes.NewReader(b)}, nil
}

// isPackIdx reports whether name is a pack index file.
func isPackIdx(name string) bool {
	dir, base := filepath.Split(filepath.ToSlash(name))
	return strings.HasSuffix(strings.TrimSuffix(dir, "/"), "objects/pack") &&
		strings.HasPrefix(base, "pack-") && strings.HasSuffix(base, ".idx")
}

// packName parses the name of a pack's file, pack-<hash><ext>.
func packName(name, ext string) (plumbing.Hash, bool) {
	hex, ok := strings.CutPrefix(name, "pack-")
	if !ok {
		return plumbing.ZeroHash, false
	}
	if hex, ok = strings.CutSuffix(hex, ext); !ok {
		return plumbing.ZeroHash, false
	}
	if !plumbing.IsHash(hex) {
		return plumbing.ZeroHash, false
	}
	return plumbing.NewHash(hex), true
}

// errReadOnly is returned by memFile's writing methods.
var errReadOnly = errors.New("sources: pack index files are read-only")

// memFile is a read-only billy.File over bytes in memory.
type memFile struct {
	name string
	*bytes.Reader
}

func (m *memFile) Name() string              { return m.name }
func (m *memFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (m *memFile) Truncate(int64) error      { return errReadOnly }
func (m *memFile) Lock() error               { return nil }
func (m *memFile) Unlock() error             { return nil }
func (m *memFile) Close() error              { return nil }
