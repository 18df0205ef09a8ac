package sources

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/driftless/driftless/internal/testenv"
)

// bigFile is over go-git's 16 KiB threshold, past which an object is read
// from its pack only when its reader is opened.
var bigFile = strings.Repeat("resource \"terraform_data\" \"big\" {}\n", 600)

// pushes is a remote repository that gets one commit per push: commit i
// adds apps/appNN/main.tf and rewrites shared.tf, so the tree of commit i
// reads blobs fetched by every Poll before it. Commit 3 adds big.tf.
type pushes struct {
	t    *testing.T
	g    *testenv.GitRepo
	shas []string
}

func (p *pushes) push() string {
	i := len(p.shas)
	p.g.Write(fmt.Sprintf("apps/app%02d/main.tf", i), fmt.Sprintf("app %d", i))
	p.g.Write("shared.tf", fmt.Sprintf("shared %d", i))
	if i == 3 {
		p.g.Write("big.tf", bigFile)
	}
	sha := p.g.Commit(fmt.Sprintf("change %d", i))
	p.shas = append(p.shas, sha)
	return sha
}

// checkRevision reads every file of commit i through rev's Tree.
func (p *pushes) checkRevision(rev *Revision, i int) {
	p.t.Helper()
	want := map[string]string{"shared.tf": fmt.Sprintf("shared %d", i)}
	for j := 0; j <= i; j++ {
		want[fmt.Sprintf("apps/app%02d/main.tf", j)] = fmt.Sprintf("app %d", j)
	}
	if i >= 3 {
		want["big.tf"] = bigFile
	}
	for name, content := range want {
		if b, err := fs.ReadFile(rev.Tree, name); err != nil || string(b) != content {
			p.t.Errorf("commit %d: %s reads %.20q, %v; want %.20q", i, name, b, err, content)
		}
	}
}

// servedPushes makes a repository with one push, served over smart HTTP,
// and returns it and its URL.
func servedPushes(t *testing.T) (*pushes, string) {
	t.Helper()
	p := &pushes{t: t, g: testenv.NewGitRepo(t)}
	p.push()
	_, url := serve(t, p.g)
	return p, url
}

func packHashes(t *testing.T, dir string) map[plumbing.Hash]bool {
	t.Helper()
	packs, err := listPacks(filepath.Join(dir, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[plumbing.Hash]bool)
	for _, p := range packs {
		out[p.hash] = true
	}
	return out
}

func gitFsck(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("git", "-C", dir, "fsck", "--full", "--no-dangling")
	cmd.Env = testenv.GitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("git fsck --full: %v\n%s", err, out)
	}
}

// Forty pushes, each fetched by its own Poll: the packs are merged as they
// accumulate, every revision stays readable, git finds the clone sound,
// and a Revision made before the merges still reads its files from packs
// that were deleted meanwhile.
func TestPackMergeBoundsPacks(t *testing.T) {
	ctx := context.Background()
	p, url := servedPushes(t)
	r := openTestRepo(t, Config{URL: url})
	var early *Revision
	var earlyPacks map[plumbing.Hash]bool
	var lazy plumbing.EncodedObject // big.tf as read by early's store, content not read yet
	for i := range 40 {
		if i > 0 {
			p.push()
		}
		rev, changed, err := r.Poll(ctx)
		if err != nil || !changed || rev.SHA != p.shas[i] {
			t.Fatalf("Poll %d = %v, %v, %v; want %s", i, rev, changed, err, p.shas[i])
		}
		if n := len(packHashes(t, r.cfg.Dir)); n > fetchMergeFactor*maxSmallPacks+1 {
			t.Fatalf("after %d fetches: %d packs, want at most %d", i+1, n, fetchMergeFactor*maxSmallPacks+1)
		}
		// The interval's next poll, which finds the branch unchanged,
		// merges the small packs.
		if _, changed, err := r.Poll(ctx); err != nil || changed {
			t.Fatalf("idle Poll after %d = %v, %v", i, changed, err)
		}
		if n := len(packHashes(t, r.cfg.Dir)); n > maxSmallPacks+1 {
			t.Fatalf("after %d fetches and an idle poll: %d packs, want at most %d", i+1, n, maxSmallPacks+1)
		}
		if i == 12 {
			early, earlyPacks = rev, packHashes(t, r.cfg.Dir)
			o := rev.Tree.(linkFS).b.(*gitTree).o
			o.mu.Lock()
			lazy, err = o.s.EncodedObject(plumbing.BlobObject, plumbing.NewHash(p.g.Git("rev-parse", rev.SHA+":big.tf")))
			o.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if s := r.Stats(); s.Fetches != 40 {
		t.Fatalf("%d fetches, want 40 (one pack each)", s.Fetches)
	}

	now := packHashes(t, r.cfg.Dir)
	gone := 0
	for h := range earlyPacks {
		if !now[h] {
			gone++
		}
	}
	if gone < len(earlyPacks)-1 {
		t.Fatalf("%d of the %d packs of the early revision were merged away, want all but the largest", gone, len(earlyPacks))
	}
	// First, before any other read fills the blob cache all stores share.
	o := early.Tree.(linkFS).b.(*gitTree).o
	o.mu.Lock()
	rd, err := lazy.Reader()
	var b []byte
	if err == nil {
		b, err = io.ReadAll(rd)
		rd.Close()
	}
	o.mu.Unlock()
	if err != nil || string(b) != bigFile {
		t.Errorf("big object of the early store after the merge: %d bytes, %v", len(b), err)
	}
	p.checkRevision(early, 12)
	if _, err := r.ChangedPaths(ctx, p.shas[0], p.shas[12]); err != nil {
		t.Errorf("ChangedPaths: %v", err)
	}
	for i, sha := range p.shas {
		rev, err := r.Revision(ctx, sha)
		if err != nil {
			t.Fatalf("Revision %d: %v", i, err)
		}
		p.checkRevision(rev, i)
	}
	if ok, err := r.IsAncestor(ctx, p.shas[0], p.shas[39]); err != nil || !ok {
		t.Errorf("IsAncestor(first, last) = %v, %v", ok, err)
	}
	gitFsck(t, r.cfg.Dir)
}

// Readers of old revisions run while Polls merge packs (run with -race).
func TestPackMergeConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	p, url := servedPushes(t)
	r := openTestRepo(t, Config{URL: url})
	r.packLimit = 3
	revs := make(chan *Revision, 64)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for rev := range revs {
				var i int
				fmt.Sscanf(strings.TrimSpace(rev.Message), "change %d", &i)
				p.checkRevision(rev, i)
			}
		})
	}
	for i := range 24 {
		if i > 0 {
			p.push()
		}
		rev, _, err := r.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		revs <- rev
		if i%2 == 1 { // the interval's idle poll, which merges, every other push
			if _, _, err := r.Poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if i > 0 {
			old, err := r.Revision(ctx, p.shas[i/2])
			if err != nil {
				t.Fatal(err)
			}
			revs <- old
		}
	}
	close(revs)
	wg.Wait()
	gitFsck(t, r.cfg.Dir)
}

// A merge that fails (a pack is corrupt) is logged; the packs stay as
// they are and the Poll succeeds.
func TestPackMergeFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	p, url := servedPushes(t)
	var logs testenv.LogBuffer
	cfg := Config{Name: "platform", URL: url, Dir: filepath.Join(t.TempDir(), "git")}
	r, err := Open(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.packLimit = 3
	for i := range 4 {
		if i > 0 {
			p.push()
		}
		if _, _, err := r.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	packs, err := listPacks(filepath.Join(cfg.Dir, "objects", "pack"))
	if err != nil || len(packs) != 4 {
		t.Fatalf("packs before the merge: %v %v", packs, err)
	}
	// Garble the last object (a blob) of the smallest pack, which every
	// merge takes in.
	victim := slices.MinFunc(packs, func(a, b packFile) int { return cmp.Compare(a.size, b.size) })
	path := filepath.Join(cfg.Dir, "objects", "pack", "pack-"+victim.hash.String()+".pack")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) - 20 - 8; i < len(data)-20; i++ {
		data[i] ^= 0x5a
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := packHashes(t, cfg.Dir)

	p.push()
	rev, changed, err := r.Poll(ctx)
	if err != nil || !changed || rev.SHA != p.shas[4] {
		t.Fatalf("Poll of the fifth push = %v, %v, %v", rev, changed, err)
	}
	before = packHashes(t, cfg.Dir)
	if rev, changed, err = r.Poll(ctx); err != nil || changed || rev.SHA != p.shas[4] { // idle: merges, and fails
		t.Fatalf("idle Poll with the failed merge = %v, %v, %v", rev, changed, err)
	}
	after := packHashes(t, cfg.Dir)
	for h := range before {
		if !after[h] {
			t.Errorf("pack %s was deleted", h)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d packs after the failed merge, want %d", len(after), len(before))
	}
	if !strings.Contains(logs.String(), `"msg":"merging pack files failed; they stay as they are"`) {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	if bad := testenv.CheckJSONLines(logs.String()); len(bad) > 0 {
		t.Errorf("bad log lines: %q", bad)
	}
	entries, _ := os.ReadDir(filepath.Join(cfg.Dir, "objects", "pack"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tmp_") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// What a crash leaves is harmless: a merged pack written but the merged
// packs not deleted yet (every object twice), temporary files and a
// partial index without its pack. The next Open removes the debris, and
// the next merge takes the duplicates in.
func TestPackMergeCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	p, url := servedPushes(t)
	cfg := Config{URL: url, Dir: filepath.Join(t.TempDir(), "git")}
	r := openTestRepo(t, cfg)
	r.packLimit = 1000
	for i := range 6 {
		if i > 0 {
			p.push()
		}
		if _, _, err := r.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	packDir := filepath.Join(cfg.Dir, "objects", "pack")
	packs, err := listPacks(packDir)
	if err != nil {
		t.Fatal(err)
	}
	// Crash after the merged pack got its name, before the deletions.
	if _, _, err := writeMergedPack(cfg.Dir, r.store().idx, packsToMerge(packs, 1)); err != nil {
		t.Fatal(err)
	}
	debris := []string{"tmp_pack_123", "tmp_idx_456", "pack-" + strings.Repeat("ab", 20) + ".idx"}
	for _, name := range debris {
		if err := os.WriteFile(filepath.Join(packDir, name), []byte("DIRC partial"), 0o444); err != nil {
			t.Fatal(err)
		}
	}

	r.lock.f.Close()         // the process ends: its lock on the clone goes
	r = openTestRepo(t, cfg) // the restart
	for _, name := range debris {
		if _, err := os.Stat(filepath.Join(packDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left after Open: %v", name, err)
		}
	}
	for i := range 6 {
		rev, err := r.Revision(ctx, p.shas[i])
		if err != nil {
			t.Fatal(err)
		}
		p.checkRevision(rev, i)
	}
	r.packLimit = 2
	p.push()
	rev, _, err := r.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.checkRevision(rev, 6)
	if _, _, err := r.Poll(ctx); err != nil { // idle: merges
		t.Fatal(err)
	}
	if n := len(packHashes(t, cfg.Dir)); n > 3 {
		t.Errorf("%d packs after the next merge, want at most 3", n)
	}
	gitFsck(t, cfg.Dir)
}

func TestPacksToMerge(t *testing.T) {
	h := func(i int) plumbing.Hash { return plumbing.NewHash(fmt.Sprintf("%040x", i)) }
	packs := func(sizes ...int64) []packFile {
		var out []packFile
		for i, s := range sizes {
			out = append(out, packFile{hash: h(i), size: s})
		}
		return out
	}
	sizes := func(ps []packFile) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.size)
		}
		return out
	}
	for _, tc := range []struct {
		in   []packFile
		want []int64
	}{
		{packs(1000, 10, 10, 10), nil},                                 // within the limit
		{packs(10, 1000, 10, 10, 10), []int64{10, 10, 10, 10}},         // all but the largest
		{packs(1000, 500, 10, 10, 10, 10), []int64{10, 10, 10, 10}},    // 500 is kept: ≥ 2×40
		{packs(1000, 50, 10, 10, 10, 10), []int64{50, 10, 10, 10, 10}}, // 50 < 2×40: merged too
		{packs(10000, 2000, 600, 200, 60, 20), nil},                    // geometric already
		{packs(10, 20, 30, 40, 5000, 60), []int64{60, 40, 30, 20, 10}}, // the largest need not be first
	} {
		got := sizes(packsToMerge(tc.in, 3))
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("packsToMerge(%v) = %v, want %v", sizes(tc.in), got, tc.want)
		}
	}
}

// TestNoMergeWhileAnotherProcessHasTheClone: while another process (here,
// another Repo on the same directory: its own lock file description) has
// the clone open, a fetch does not merge or delete its packs, which that
// process indexed; once it is gone, the next fetch merges them.
func TestNoMergeWhileAnotherProcessHasTheClone(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("a.txt", "0")
	g.Commit("c0")
	dir := filepath.Join(t.TempDir(), "clone")
	r, err := Open(ctx, Config{Name: "r", URL: g.URL(), Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.packLimit = 2
	var shas []string
	commit := func(i int) {
		g.Write("a.txt", strconv.Itoa(i))
		shas = append(shas, g.Commit("c"+strconv.Itoa(i)))
		if _, _, err := r.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	commit(1)
	other, err := Open(ctx, Config{Name: "r", URL: g.URL(), Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Poll(ctx); err != nil { // indexes the packs there
		t.Fatal(err)
	}
	for i := 2; i <= 6; i++ {
		commit(i)
		if _, _, err := r.Poll(ctx); err != nil { // idle: would merge
			t.Fatal(err)
		}
	}
	packs, err := listPacks(filepath.Join(dir, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) < 6 {
		t.Fatalf("%d packs after 6 fetches while another process had the clone open: merged under it", len(packs))
	}
	// The other process still reads what it indexed.
	if rev, err := other.Revision(ctx, shas[0]); err != nil {
		t.Fatalf("the other process reads %.7s: %v", shas[0], err)
	} else if b, err := fs.ReadFile(rev.Tree, "a.txt"); err != nil || string(b) != "1" {
		t.Fatalf("the other process reads a.txt at %.7s: %q, %v", shas[0], b, err)
	}
	other.lock.f.Close()                      // the other process ends
	if _, _, err := r.Poll(ctx); err != nil { // idle: merges
		t.Fatal(err)
	}
	if packs, err = listPacks(filepath.Join(dir, "objects", "pack")); err != nil {
		t.Fatal(err)
	}
	if len(packs) > 3 {
		t.Fatalf("%d packs once the clone is this process's alone: no merge", len(packs))
	}
}
