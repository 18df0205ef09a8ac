package sources

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// maxSmallPacks is how many packs besides the largest the bare clone may
// hold before a fetch merges them. Every fetch that transfers objects
// writes a pack and go-git never consolidates them; each new objStore
// loads the index of every pack and every object lookup tries them in
// turn, so without merging the cost of a commit grows with the number of
// commits ever fetched (git bounds it with gc --auto, 50 packs).
const maxSmallPacks = 16

// Temporary file names in objects/pack: go-git's own (a fetch) and ours.
// Neither is ever read as a pack; leftovers of a crash are removed.
const (
	tmpPackPrefix = "tmp_pack_"
	tmpIdxPrefix  = "tmp_idx_"
)

// fetchMergeFactor: a fetch merges the small packs itself only past this
// many times r.packLimit. Below that, the next idle poll merges them
// (mergeIdle): a merge rewrites every object of the small packs (tens of
// milliseconds for a repository of 1,000 stacks), which the commit just
// fetched should not wait for.
const fetchMergeFactor = 4

// refreshStore makes the objects a fetch wrote readable: it publishes a
// new objStore, once the small packs are merged when there are far too
// many. A merge that fails is logged and leaves the packs as they were.
// r.pollMu must be held.
func (r *Repo) refreshStore() {
	r.unmerged++
	if merged, _ := r.merge(fetchMergeFactor * r.packLimit); merged {
		r.unmerged = 0
		return
	}
	r.publish(newObjStore(r.cfg.Dir, r.store(), nil))
}

// mergeIdle merges the small packs when there are more than r.packLimit,
// on a poll that found the branch unchanged. It looks only when a fetch
// brought a pack since it last looked, or when another process had the
// clone open then (a merge that failed is tried again after the next
// fetch, not at every poll). r.pollMu must be held.
func (r *Repo) mergeIdle() {
	if r.unmerged == 0 {
		return
	}
	if _, looked := r.merge(r.packLimit); looked {
		r.unmerged = 0
	}
}

// merge is mergePacks(limit), its failure logged; looked: it had the
// clone alone to look at the packs.
func (r *Repo) merge(limit int) (merged, looked bool) {
	merged, looked, err := r.mergePacks(limit)
	if err != nil {
		r.log.Warn("merging pack files failed; they stay as they are", "error", err)
	}
	return merged, looked
}

func (r *Repo) publish(o *objStore) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objs = o
}

// mergePacks merges the small packs into one when there are more than
// limit besides the largest, and reports whether it did (it then
// published the store that reads the merged pack). The largest pack (the
// initial clone, usually) is never rewritten, and the merge copies only
// the objects listed in the merged packs' indexes: no history walk, no
// delta search. r.pollMu must be held: no fetch writes meanwhile.
//
// The order makes it safe: the merged pack and its index are written and
// synced to disk under temporary names, then renamed; the new objStore is
// published, its index without the old packs; only then are they deleted.
// A crash at any point leaves every object in some pack (at worst twice),
// and temporary files that Open removes. Readers of older stores that
// find a pack gone read from the new one (packStorage).
//
// It runs only when no other process has the clone open (dirLock): their
// stores index the packs it would delete.
func (r *Repo) mergePacks(limit int) (merged, ran bool, err error) {
	ran, lerr := r.lock.alone(func() { merged, err = r.mergePacksAlone(limit) })
	if lerr != nil {
		return merged, ran, errors.Join(err, lerr)
	}
	if !ran {
		r.log.Debug("another process has the clone open; its pack files are merged later")
	}
	return merged, ran, err
}

// mergePacksAlone is mergePacks under the clone's exclusive lock.
func (r *Repo) mergePacksAlone(limit int) (bool, error) {
	packDir := filepath.Join(r.cfg.Dir, "objects", "pack")
	if err := cleanPackDir(packDir); err != nil {
		return false, err
	}
	packs, err := listPacks(packDir)
	if err != nil {
		return false, err
	}
	small := packsToMerge(packs, limit)
	if len(small) < 2 {
		return false, nil
	}
	start := time.Now()
	old := r.store()
	merged, objects, err := writeMergedPack(r.cfg.Dir, old.idx, small)
	if err != nil {
		return false, fmt.Errorf("merge %d packs: %w", len(small), err)
	}
	hide := make(map[plumbing.Hash]bool, len(small))
	for _, p := range small {
		hide[p.hash] = p.hash != merged
	}
	r.publish(newObjStore(r.cfg.Dir, old, hide))
	var errs []error
	for _, p := range small {
		if hide[p.hash] {
			errs = append(errs, removePack(packDir, p.hash))
			old.idx.drop(filepath.Join(packDir, "pack-"+p.hash.String()+".idx"))
		}
	}
	// The writing store indexed the deleted packs (and not the merged one).
	r.w.Reindex()
	r.log.Debug("merged pack files", "packs", len(small), "objects", objects,
		"pack", merged.String(), "duration_ms", time.Since(start).Milliseconds())
	if err := errors.Join(errs...); err != nil {
		// Every object is in the merged pack: a pack left over is only
		// read twice, and merged again next time.
		r.log.Warn("removing merged pack files failed", "error", err)
	}
	return true, nil
}

// packFile is a pack of the bare clone.
type packFile struct {
	hash plumbing.Hash
	size int64
}

// listPacks lists the packs that have an index, except those a .keep file
// protects (git's convention for packs no repack may touch).
func listPacks(packDir string) ([]packFile, error) {
	entries, err := os.ReadDir(packDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	var packs []packFile
	for _, e := range entries {
		h, ok := packName(e.Name(), ".pack")
		base := "pack-" + h.String()
		if !ok || !names[base+".idx"] || names[base+".keep"] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		packs = append(packs, packFile{hash: h, size: info.Size()})
	}
	return packs, nil
}

// packsToMerge picks the packs to merge when there are more than limit
// besides the largest, which it leaves alone. Of the others, largest
// first, a pack is kept while it is at least twice the size of all those
// smaller than it together; the first that is not is merged with all the
// smaller ones. The packs kept thus grow geometrically, so there are few
// of them, and an object is rewritten a few times in all (each time into a
// pack half as large again at least), never once per merge.
func packsToMerge(packs []packFile, limit int) []packFile {
	if len(packs) <= limit+1 {
		return nil
	}
	packs = slices.Clone(packs)
	slices.SortFunc(packs, func(a, b packFile) int {
		if c := cmp.Compare(b.size, a.size); c != 0 {
			return c
		}
		return bytes.Compare(a.hash[:], b.hash[:])
	})
	rest := packs[1:]
	var smaller int64
	for _, p := range rest {
		smaller += p.size
	}
	for i, p := range rest {
		smaller -= p.size
		if p.size < 2*smaller {
			return rest[i:]
		}
	}
	return nil
}

// writeMergedPack writes one pack holding every object of packs, with its
// index, and returns its hash and its number of objects. The pack and the
// index are synced to disk before they get their names (index first: a
// pack is only ever listed with its index), and the directory after.
func writeMergedPack(dir string, idxs *idxCache, packs []packFile) (_ plumbing.Hash, _ int, err error) {
	packDir := filepath.Join(dir, "objects", "pack")
	src, hashes, err := openPacks(dir, idxs, packs)
	defer src.close()
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	pack, err := os.CreateTemp(packDir, tmpPackPrefix)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	idx, err := os.CreateTemp(packDir, tmpIdxPrefix)
	if err != nil {
		pack.Close()
		os.Remove(pack.Name())
		return plumbing.ZeroHash, 0, err
	}
	defer func() {
		pack.Close()
		idx.Close()
		if err != nil {
			os.Remove(pack.Name())
			os.Remove(idx.Name())
		}
	}()
	// Objects are written whole (window 0): no delta search, and a delta
	// whose base is in another pack would not be valid here anyway.
	bw := bufio.NewWriter(pack)
	sum, err := packfile.NewEncoder(bw, src, false).Encode(hashes, 0)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write pack: %w", err)
	}
	if err := flushSync(bw, pack); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	// The index, as git index-pack would build it: by reading the pack.
	if _, err := pack.Seek(0, 0); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	iw := new(idxfile.Writer)
	parser, err := packfile.NewParser(packfile.NewScanner(pack), iw)
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	if got, err := parser.Parse(); err != nil || got != sum {
		return plumbing.ZeroHash, 0, fmt.Errorf("index the merged pack: checksum %s, want %s: %w", got, sum, err)
	}
	mi, err := iw.Index()
	if err != nil {
		return plumbing.ZeroHash, 0, err
	}
	if n, _ := mi.Count(); n != int64(len(hashes)) {
		return plumbing.ZeroHash, 0, fmt.Errorf("the merged pack holds %d objects, want %d", n, len(hashes))
	}
	bw = bufio.NewWriter(idx)
	if _, err := idxfile.NewEncoder(bw).Encode(mi); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write index: %w", err)
	}
	if err := flushSync(bw, idx); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	base := filepath.Join(packDir, "pack-"+sum.String())
	for _, f := range []struct{ tmp, name string }{{idx.Name(), base + ".idx"}, {pack.Name(), base + ".pack"}} {
		if err := os.Chmod(f.tmp, 0o444); err != nil { // as git leaves them
			return plumbing.ZeroHash, 0, err
		}
		if err := os.Rename(f.tmp, f.name); err != nil {
			return plumbing.ZeroHash, 0, err
		}
	}
	if err := syncDir(packDir); err != nil {
		// Renamed already: the packs stay as they are, the merged one
		// besides them (its objects twice), merged again next time.
		return plumbing.ZeroHash, 0, err
	}
	return sum, len(hashes), nil
}

// packSet reads the objects of a few packs for the encoder, which only
// calls EncodedObject (window 0); the embedded interface is nil.
type packSet struct {
	storer.EncodedObjectStorer
	packs []*packfile.Packfile
}

func (s *packSet) EncodedObject(_ plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	for _, p := range s.packs {
		if ok, _ := p.Contains(h); ok {
			return p.Get(h)
		}
	}
	return nil, plumbing.ErrObjectNotFound
}

func (s *packSet) close() {
	for _, p := range s.packs {
		p.Close()
	}
}

// openPacks opens packs for reading and lists their objects, once each,
// in pack order.
func openPacks(dir string, idxs *idxCache, packs []packFile) (*packSet, []plumbing.Hash, error) {
	fsys := osfs.New(dir)
	// Bases of the packs' own deltas, read once: sized like go-git's default.
	objCache := cache.NewObjectLRUDefault()
	src := &packSet{}
	seen := make(map[plumbing.Hash]bool)
	var hashes []plumbing.Hash
	for _, p := range packs {
		name := path.Join("objects", "pack", "pack-"+p.hash.String())
		b, err := idxs.get(filepath.Join(dir, filepath.FromSlash(name)+".idx"))
		if err != nil {
			return src, nil, err
		}
		idx := idxfile.NewMemoryIndex()
		if err := idxfile.NewDecoder(bytes.NewReader(b)).Decode(idx); err != nil {
			return src, nil, fmt.Errorf("read index of pack %s: %w", p.hash, err)
		}
		f, err := fsys.Open(name + ".pack")
		if err != nil {
			return src, nil, err
		}
		src.packs = append(src.packs, packfile.NewPackfileWithCache(idx, fsys, f, objCache, 0))
		iter, err := idx.EntriesByOffset()
		if err != nil {
			return src, nil, err
		}
		for {
			e, err := iter.Next()
			if err != nil {
				break // io.EOF: the iterators have no other error
			}
			if !seen[e.Hash] {
				seen[e.Hash] = true
				hashes = append(hashes, e.Hash)
			}
		}
		iter.Close()
	}
	return src, hashes, nil
}

func flushSync(bw *bufio.Writer, f *os.File) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removePack deletes a pack's files, the pack first: an index without its
// pack is never read (and cleanPackDir removes it), a pack without its
// index would fail every store that lists it.
func removePack(packDir string, h plumbing.Hash) error {
	base := filepath.Join(packDir, "pack-"+h.String())
	var errs []error
	for _, ext := range []string{".pack", ".idx", ".rev", ".bitmap"} {
		if err := os.Remove(base + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			if ext == ".pack" {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// cleanPackDir removes what an interrupted fetch or merge left in the pack
// directory: temporary files, and indexes whose pack is missing (the index
// is named first; a retry that writes the same pack would keep a partial
// one). Called with no fetch running: under Repo.pollMu, or from Open.
func cleanPackDir(packDir string) error {
	entries, err := os.ReadDir(packDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		names[e.Name()] = true
	}
	var errs []error
	for _, e := range entries {
		n := e.Name()
		h, isIdx := packName(n, ".idx")
		orphan := isIdx && !names["pack-"+h.String()+".pack"]
		if orphan || strings.HasPrefix(n, tmpPackPrefix) || strings.HasPrefix(n, tmpIdxPrefix) {
			if err := os.Remove(filepath.Join(packDir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
