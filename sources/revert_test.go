package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/go-git/go-git/v5/plumbing"
)

// gitIn runs git in dir with the test environment and returns its trimmed
// stdout; failure is fatal.
func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = testenv.GitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// remoteFixture is a bare "remote" repository at Bare (named remote.git in
// its own directory, so it can be served over HTTP) with main at v3, pushed
// from the work repository Work.
type remoteFixture struct {
	Bare       string
	Work       *testenv.GitRepo
	V1, V2, V3 string
}

// newRemote builds the fixture: v1 has a regular file, an executable and a
// symbolic link; v2 and v3 change all three and add a file.
func newRemote(t *testing.T) *remoteFixture {
	t.Helper()
	f := &remoteFixture{Bare: filepath.Join(t.TempDir(), "remote.git"), Work: testenv.NewGitRepo(t)}
	gitIn(t, filepath.Dir(f.Bare), "init", "-q", "--bare", "-b", "main", f.Bare)
	gitIn(t, f.Bare, "config", "http.receivepack", "true")
	w := f.Work
	w.Write("apps/web/main.tf", "v1")
	w.Write("bin/deploy.sh", "#!/bin/sh\necho v1\n")
	if err := os.Chmod(filepath.Join(w.Dir, "bin/deploy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.Symlink("current", "apps/web")
	f.V1 = w.Commit("v1")
	w.Write("apps/web/main.tf", "v2")
	if err := os.Chmod(filepath.Join(w.Dir, "bin/deploy.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.Symlink("current", "bin")
	f.V2 = w.Commit("v2")
	w.Write("apps/web/main.tf", "v3")
	w.Write("apps/api/main.tf", "api")
	f.V3 = w.Commit("v3")
	w.Git("remote", "add", "origin", f.Bare)
	w.Git("push", "-q", "origin", "main")
	return f
}

// Head is the remote branch's commit.
func (f *remoteFixture) Head(t testing.TB) string {
	t.Helper()
	return gitIn(t, f.Bare, "rev-parse", "refs/heads/main")
}

// PushCompeting commits and pushes a change from another clone, moving the
// remote branch; it returns the new SHA.
func (f *remoteFixture) PushCompeting(t testing.TB, content string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "other")
	gitIn(t, filepath.Dir(dir), "clone", "-q", f.Bare, dir)
	if err := os.WriteFile(filepath.Join(dir, "apps/web/main.tf"), []byte(content), 0o644); err != nil {
		t.Error(err)
		return ""
	}
	gitIn(t, dir, "commit", "-q", "-am", "competing "+content)
	gitIn(t, dir, "push", "-q", "origin", "main")
	return gitIn(t, dir, "rev-parse", "HEAD")
}

// localRef is the Repo's stored branch ref.
func localRef(t testing.TB, r *Repo) string {
	t.Helper()
	ref, err := r.w.Reference(r.ref)
	if err != nil {
		t.Fatal(err)
	}
	return ref.Hash().String()
}

func TestRevert(t *testing.T) {
	for _, transport := range []string{"http", "file"} {
		t.Run(transport, func(t *testing.T) {
			ctx := context.Background()
			f := newRemote(t)
			var cfg Config
			if transport == "http" {
				srv := testenv.StartGitHTTP(t, filepath.Dir(f.Bare))
				cfg = Config{URL: srv.URL + "/remote.git", Auth: Auth{Token: "tok-ignored-by-server"}}
			} else {
				cfg = Config{URL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.Bare)}).String()}
			}
			r := openTestRepo(t, cfg)
			if rev, _, err := r.Poll(ctx); err != nil || rev.SHA != f.V3 || rev.Reverts != nil {
				t.Fatalf("Poll = %v, %v", rev, err)
			}

			rev, err := r.Revert(ctx, RevertOptions{To: f.V1[:7], Reason: "requested by ops via driftless rollback"})
			if err != nil {
				t.Fatal(err)
			}
			if head := f.Head(t); rev.SHA != head {
				t.Fatalf("Revert returned %s, remote main is %s", rev.SHA, head)
			}
			if got, want := gitIn(t, f.Bare, "rev-parse", "HEAD^{tree}"), gitIn(t, f.Bare, "rev-parse", f.V1+"^{tree}"); got != want {
				t.Errorf("remote tree = %s, want v1's %s", got, want)
			}
			if parent := gitIn(t, f.Bare, "rev-parse", "HEAD^"); parent != f.V3 {
				t.Errorf("parent = %s, want v3 %s", parent, f.V3)
			}
			wantMsg := fmt.Sprintf("Revert to %s: undo 2 commits\n\nThis reverts commit %s.\nThis reverts commit %s.\n\nrequested by ops via driftless rollback\n",
				f.V1[:7], f.V3, f.V2)
			if rev.Message != wantMsg {
				t.Errorf("Message = %q\nwant %q", rev.Message, wantMsg)
			}
			if !slices.Equal(rev.Reverts, []string{f.V3, f.V2}) {
				t.Errorf("Reverts = %q", rev.Reverts)
			}
			if rev.Author != "driftless" || rev.AuthorEmail != "driftless@localhost" || rev.Repo != "platform" || rev.Branch != "main" {
				t.Errorf("Revision = %+v", rev)
			}
			if log := gitIn(t, f.Bare, "log", "--format=%H %an <%ae> %s", "main"); !strings.HasPrefix(log,
				rev.SHA+" driftless <driftless@localhost> Revert to "+f.V1[:7]+": undo 2 commits\n"+f.V3+" ") {
				t.Errorf("git log on the remote:\n%s", log)
			}
			gitIn(t, f.Bare, "fsck", "--strict", "--no-dangling")
			// Modes and links are v1's: the tree is v1's tree object, and
			// the Revision's Tree reads it.
			if b, err := fs.ReadFile(rev.Tree, "apps/web/main.tf"); err != nil || string(b) != "v1" {
				t.Errorf("Tree main.tf = %q, %v", b, err)
			}
			if _, err := fs.Stat(rev.Tree, "apps/api/main.tf"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("file added after v1 still there: %v", err)
			}
			if ls := gitIn(t, f.Bare, "ls-tree", "HEAD", "current", "bin/deploy.sh"); !strings.Contains(ls, "100755 blob") || !strings.Contains(ls, "120000 blob") {
				t.Errorf("modes lost:\n%s", ls)
			}
			if got := localRef(t, r); got != rev.SHA {
				t.Errorf("local ref = %s, want %s", got, rev.SHA)
			}

			// The next Poll reports it, marked as a rollback, without fetching.
			fetches := r.Stats().Fetches
			polled, changed, err := r.Poll(ctx)
			if err != nil || !changed || polled.SHA != rev.SHA {
				t.Fatalf("Poll after Revert = %v, %v, %v", polled, changed, err)
			}
			if !slices.Equal(polled.Reverts, []string{f.V3, f.V2}) {
				t.Errorf("polled Reverts = %q", polled.Reverts)
			}
			if r.Stats().Fetches != fetches {
				t.Errorf("Poll fetched the commit Revert pushed")
			}

			// Revert the revert: back to v3's tree, one commit undone.
			again, err := r.Revert(ctx, RevertOptions{To: f.V3, AuthorName: "Ops Bot", AuthorEmail: "ops@example.test"})
			if err != nil {
				t.Fatal(err)
			}
			wantMsg = fmt.Sprintf("Revert to %s: undo 1 commit\n\nThis reverts commit %s.\n", f.V3[:7], rev.SHA)
			if again.Message != wantMsg || again.Author != "Ops Bot" || again.AuthorEmail != "ops@example.test" {
				t.Errorf("second revert = %q by %s <%s>", again.Message, again.Author, again.AuthorEmail)
			}
			if got, want := gitIn(t, f.Bare, "rev-parse", "main^{tree}"), gitIn(t, f.Bare, "rev-parse", f.V3+"^{tree}"); got != want || f.Head(t) != again.SHA {
				t.Errorf("remote after second revert: head %s tree %s, want %s tree %s", f.Head(t), got, again.SHA, want)
			}
		})
	}
}

func TestRevertRefusals(t *testing.T) {
	ctx := context.Background()
	f := newRemote(t)
	r := openTestRepo(t, Config{URL: f.Bare})
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	// v4 has v1's content again (reverted by hand).
	f.Work.Git("revert", "--no-edit", f.V3)
	f.Work.Git("revert", "--no-edit", f.V2)
	f.Work.Git("push", "-q", "origin", "main")
	v4 := f.Head(t)
	if got, want := gitIn(t, f.Bare, "rev-parse", v4+"^{tree}"), gitIn(t, f.Bare, "rev-parse", f.V1+"^{tree}"); got != want {
		t.Fatalf("fixture: tree %s != %s", got, want)
	}
	unknown := strings.Repeat("ab", 20)

	tests := []struct {
		name string
		to   string
		want error
	}{
		{"head", v4, ErrNothingToRevert},
		{"head by short SHA", v4[:8], ErrNothingToRevert},
		{"head already has the tree", f.V1, ErrNothingToRevert},
		{"unknown", unknown, ErrUnknownRevision},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Revert(ctx, RevertOptions{To: tt.to})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Revert(%q) = %v, want %v", tt.to, err, tt.want)
			}
			if f.Head(t) != v4 || localRef(t, r) != v4 {
				t.Errorf("remote %s, local %s; want both unchanged at %s", f.Head(t), localRef(t, r), v4)
			}
			t.Logf("error: %v", err)
		})
	}

	// Force-push a rewrite: v3 (stored locally) is no longer an ancestor.
	f.Work.Git("reset", "-q", "--hard", f.V1)
	f.Work.Write("apps/web/main.tf", "rewritten")
	rewrite := f.Work.Commit("rewrite")
	f.Work.Git("push", "-q", "-f", "origin", "main")
	for _, to := range []string{f.V3, v4} {
		if _, err := r.Revert(ctx, RevertOptions{To: to}); !errors.Is(err, ErrNotAncestor) {
			t.Errorf("Revert to %.7s after a rewrite = %v, want ErrNotAncestor", to, err)
		}
	}
	if f.Head(t) != rewrite || localRef(t, r) != rewrite {
		t.Errorf("remote %s, local %s; want %s", f.Head(t), localRef(t, r), rewrite)
	}
	// The fetch Revert made is no Poll: the reconciler still gets it.
	if rev, changed, err := r.Poll(ctx); err != nil || !changed || rev.SHA != rewrite {
		t.Errorf("Poll after refused Revert = %v, %v, %v", rev, changed, err)
	}
}

// TestPollMarksRevertCommits: commits made by `git revert` carry Reverts.
func TestPollMarksRevertCommits(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("a", "1")
	c1 := g.Commit("one")
	g.Write("a", "2")
	c2 := g.Commit("two")
	g.Git("revert", "--no-edit", c2)
	r := openTestRepo(t, Config{URL: g.URL()})
	rev, _, err := r.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rev.Reverts, []string{c2}) {
		t.Errorf("Reverts of a git revert = %q, want [%s]\n%s", rev.Reverts, c2, rev.Message)
	}
	for _, sha := range []string{c1, c2} {
		old, err := r.Revision(ctx, sha)
		if err != nil || old.Reverts != nil {
			t.Errorf("Revision(%.7s) = %v, %v; want no Reverts", sha, old, err)
		}
	}
}

// raceProxy serves the fixture's remote over smart HTTP through a proxy
// that runs hook once, before forwarding the first request whose
// "METHOD path?query" contains match.
func raceProxy(t *testing.T, f *remoteFixture, match string, hook func()) string {
	t.Helper()
	srv := testenv.StartGitHTTP(t, filepath.Dir(f.Bare))
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	var fired atomic.Bool
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Method+" "+r.URL.RequestURI(), match) {
			once.Do(func() { hook(); fired.Store(true) })
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	t.Cleanup(func() {
		if !fired.Load() {
			t.Errorf("no request matched %q", match)
		}
	})
	return p.URL + "/remote.git"
}

// TestRevertHeadMoved moves the remote branch from another clone between
// Revert's fetch and its push: before the push's ref advertisement (the
// client sees it) and between the advertisement and the pack upload (the
// server refuses the update).
func TestRevertHeadMoved(t *testing.T) {
	const token = "ghp_RevertSecretToken456"
	tests := []struct{ name, match string }{
		{"before advertisement", "GET /remote.git/info/refs?service=git-receive-pack"},
		{"before upload", "POST /remote.git/git-receive-pack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newRemote(t)
			var competing string
			base := raceProxy(t, f, tt.match, func() { competing = f.PushCompeting(t, "hotfix") })
			u := strings.Replace(base, "http://", "http://bot:"+token+"@", 1)
			r := openTestRepo(t, Config{URL: u, Auth: Auth{Token: token}})

			_, err := r.Revert(ctx, RevertOptions{To: f.V1})
			if !errors.Is(err, ErrHeadMoved) {
				t.Fatalf("Revert = %v, want ErrHeadMoved", err)
			}
			if full := fmt.Sprintf("%v | %+v", err, err); strings.Contains(full, token) {
				t.Fatalf("token leaked: %s", full)
			}
			t.Logf("error: %v", err)
			if head := f.Head(t); head != competing {
				t.Errorf("remote main = %s, want the competing commit %s", head, competing)
			}
			if log := gitIn(t, f.Bare, "log", "--format=%s", "main"); strings.Contains(log, "Revert to") {
				t.Errorf("revert commit reached the remote:\n%s", log)
			}
			if got := localRef(t, r); got != f.V3 {
				t.Errorf("local ref = %s, want unchanged v3 %s", got, f.V3)
			}

			// Retrying reverts against the new head.
			rev, err := r.Revert(ctx, RevertOptions{To: f.V1})
			if err != nil {
				t.Fatal(err)
			}
			if parent := gitIn(t, f.Bare, "rev-parse", "main^"); f.Head(t) != rev.SHA || parent != competing {
				t.Errorf("retry: remote main %s (parent %s), want %s on %s", f.Head(t), parent, rev.SHA, competing)
			}
			if !slices.Equal(rev.Reverts, []string{competing, f.V3, f.V2}) {
				t.Errorf("retry Reverts = %q", rev.Reverts)
			}
			if got, want := gitIn(t, f.Bare, "rev-parse", "main^{tree}"), gitIn(t, f.Bare, "rev-parse", f.V1+"^{tree}"); got != want {
				t.Errorf("retry tree = %s, want %s", got, want)
			}
		})
	}
}

// TestRevertPushRefusedHidesToken: a remote that refuses pushes (no
// http.receivepack) fails Revert with an error free of the token, and not
// as ErrHeadMoved.
func TestRevertPushRefusedHidesToken(t *testing.T) {
	const token = "ghp_PushDeniedToken789"
	ctx := context.Background()
	f := newRemote(t)
	gitIn(t, f.Bare, "config", "http.receivepack", "false")
	srv := testenv.StartGitHTTP(t, filepath.Dir(f.Bare))
	for name, cfg := range map[string]Config{
		"token in auth":         {URL: srv.URL + "/remote.git", Auth: Auth{Token: token}},
		"token in URL and auth": {URL: strings.Replace(srv.URL, "http://", "http://x-access-token:"+token+"@", 1) + "/remote.git", Auth: Auth{Token: token}},
		"token in URL":          {URL: strings.Replace(srv.URL, "http://", "http://bot:"+token+"@", 1) + "/remote.git"},
	} {
		t.Run(name, func(t *testing.T) {
			r := openTestRepo(t, cfg)
			_, err := r.Revert(ctx, RevertOptions{To: f.V1})
			if err == nil || errors.Is(err, ErrHeadMoved) {
				t.Fatalf("Revert = %v, want a push error", err)
			}
			if full := fmt.Sprintf("%v | %+v | %#v", err, err, errors.Unwrap(err)); strings.Contains(full, token) {
				t.Fatalf("token leaked: %s", full)
			}
			t.Logf("error: %v", err)
			if f.Head(t) != f.V3 || localRef(t, r) != f.V3 {
				t.Errorf("remote %s, local %s; want both at v3", f.Head(t), localRef(t, r))
			}
		})
	}
}

// TestRevertConcurrentReaders reads Revisions and Trees while Revert and
// Poll run (for the race detector).
func TestRevertConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	f := newRemote(t)
	r := openTestRepo(t, Config{URL: f.Bare})
	head, _, err := r.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := fs.ReadFile(head.Tree, "apps/web/main.tf"); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Revision(ctx, "main"); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := r.Poll(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	rev, err := r.Revert(ctx, RevertOptions{To: f.V2})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(rev.Tree, "apps/web/main.tf"); err != nil || string(b) != "v2" {
		t.Errorf("reverted Tree = %q, %v", b, err)
	}
}

func TestRevertedCommits(t *testing.T) {
	const (
		a = "0123456789abcdef0123456789abcdef01234567"
		b = "89abcdef0123456789abcdef0123456789abcdef"
	)
	sha256 := strings.Repeat("a1", 32)
	tests := []struct {
		name, msg string
		want      []string
	}{
		{"git revert", "Revert \"Add web\"\n\nThis reverts commit " + a + ".\n", []string{a}},
		{"git revert of a merge", "Revert \"Merge pull request #7 from x/y\"\n\nThis reverts commit " + a + ", reversing\nchanges made to " + b + ".\n", []string{a}},
		{"revert.reference", "Revert \"Add web\"\n\nThis reverts commit 0123456 (Add web, 2024-01-01).\n", []string{"0123456"}},
		{"ours, newest first", "Revert to 0123456: undo 2 commits\n\nThis reverts commit " + b + ".\nThis reverts commit " + a + ".\n\nrequested by ops\n", []string{b, a}},
		{"abbreviated", "Revert x\n\nThis reverts commit 89abcde.", []string{"89abcde"}},
		{"upper case", "This reverts commit 89ABCDEF.", []string{"89abcdef"}},
		{"no period", "Revert x\n\nThis reverts commit 89abcdef", []string{"89abcdef"}},
		{"CRLF", "Revert x\r\n\r\nThis reverts commit 89abcdef.\r\n", []string{"89abcdef"}},
		{"indented in a squash body", "Squash (#9)\n\n* Revert \"x\"\n\n    This reverts commit 89abcdef.\n", []string{"89abcdef"}},
		{"sha256", "This reverts commit " + sha256 + ".", []string{sha256}},
		{"none", "Add web (#41)\n\nBody.\n", nil},
		{"empty", "", nil},
		{"too short", "This reverts commit abc.", nil},
		{"not hex", "This reverts commit deadbeefxyz.", nil},
		{"no SHA", "This reverts commit.", nil},
		{"mid-line mention", "Note: This reverts commit 89abcdef.", nil},
		{"quoted", "> This reverts commit 89abcdef.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RevertedCommits(tt.msg); !slices.Equal(got, tt.want) {
				t.Errorf("RevertedCommits(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

// TestRevertAcrossMerge: the commits undone are those reachable from the
// head but not from To (`git rev-list To..head`), merges included.
func TestRevertAcrossMerge(t *testing.T) {
	ctx := context.Background()
	f := newRemote(t) // main: v1 v2 v3
	w := f.Work
	w.Git("checkout", "-q", "-b", "feature", f.V1)
	w.Write("apps/feature/main.tf", "f1")
	f1 := w.Commit("f1")
	w.Git("checkout", "-q", "main")
	w.Git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
	merge := w.Git("rev-parse", "HEAD")
	w.Git("push", "-q", "origin", "main")
	r := openTestRepo(t, Config{URL: f.Bare})

	tests := []struct {
		to   string
		want []string // newest first
	}{
		{f.V3, []string{merge, f1}},
		{f1, []string{merge, f.V3, f.V2}},
		{f.V1, []string{merge, f1, f.V3, f.V2}},
	}
	for _, tt := range tests {
		t.Run(tt.to[:7], func(t *testing.T) {
			// Push nothing: inspect the computed range only.
			if _, err := r.sync(ctx); err != nil {
				t.Fatal(err)
			}
			head := gitIn(t, f.Bare, "rev-parse", "main")
			_, undone, err := undoneCommits(ctx, r.store(), plumbing.NewHash(head), plumbing.NewHash(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range undone {
				got = append(got, c.Hash.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("undone = %.7q, want %.7q", got, tt.want)
			}
			if rl := strings.Fields(gitIn(t, f.Bare, "rev-list", tt.to+"..main")); !sameSet(rl, got) {
				t.Errorf("git rev-list %.7s..main = %.7q, ours %.7q", tt.to, rl, got)
			}
		})
	}
	rev, err := r.Revert(ctx, RevertOptions{To: f1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := gitIn(t, f.Bare, "rev-parse", "main^{tree}"), gitIn(t, f.Bare, "rev-parse", f1+"^{tree}"); got != want || f.Head(t) != rev.SHA {
		t.Errorf("remote tree %s, want f1's %s", got, want)
	}
	if !slices.Equal(rev.Reverts, []string{merge, f.V3, f.V2}) {
		t.Errorf("Reverts = %.7q", rev.Reverts)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
