package sources

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// CommitToBranch creates the side branch from the tracked head, then adds
// fast-forward commits on top of it, skips when asked, commits nothing
// when nothing changes, never writes the tracked branch, and refuses to
// overwrite a side branch that moved (never forcing).
func TestCommitToBranch(t *testing.T) {
	ctx := context.Background()
	f := newRemote(t)
	r := openTestRepo(t, Config{URL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.Bare)}).String()})
	edit := func(content string) func(fs.FS) (map[string][]byte, string, error) {
		return func(tree fs.FS) (map[string][]byte, string, error) {
			old, err := fs.ReadFile(tree, "apps/web/main.tf")
			if err != nil {
				return nil, "", err
			}
			if string(old) != "v3" {
				t.Errorf("Edit sees %q, want the tracked head's v3", old)
			}
			return map[string][]byte{"apps/web/main.tf": []byte(content)}, "drift " + content + "\n\nfp: " + content + "\n", nil
		}
	}
	const side = "driftless/drift/web"
	res, err := r.CommitToBranch(ctx, BranchCommit{Branch: side, Edit: edit("live-1")})
	if err != nil || !res.Pushed || res.Previous != "" {
		t.Fatalf("first commit = %+v, %v", res, err)
	}
	if got := gitIn(t, f.Bare, "rev-parse", "refs/heads/"+side); got != res.Commit {
		t.Fatalf("remote %s = %s, want %s", side, got, res.Commit)
	}
	if got := gitIn(t, f.Bare, "rev-parse", res.Commit+"^"); got != f.V3 {
		t.Errorf("parent = %s, want the tracked head %s", got, f.V3)
	}
	if got := gitIn(t, f.Bare, "show", res.Commit+":apps/web/main.tf"); got != "live-1" {
		t.Errorf("file = %q", got)
	}
	if got := gitIn(t, f.Bare, "log", "-1", "--format=%an", res.Commit); got != "driftless" {
		t.Errorf("author = %q", got)
	}
	if f.Head(t) != f.V3 {
		t.Errorf("the tracked branch moved")
	}
	first := res.Commit

	// Skip sees the head's message.
	res, err = r.CommitToBranch(ctx, BranchCommit{Branch: side, Edit: edit("x"), Skip: func(m string) bool { return strings.Contains(m, "fp: live-1") }})
	if err != nil || res.Pushed || res.Commit != first {
		t.Fatalf("skipped commit = %+v, %v", res, err)
	}
	// Same content: nothing committed.
	res, err = r.CommitToBranch(ctx, BranchCommit{Branch: side, Edit: edit("live-1")})
	if err != nil || res.Pushed || res.Commit != first {
		t.Fatalf("unchanged commit = %+v, %v", res, err)
	}
	// New content: one fast-forward commit.
	res, err = r.CommitToBranch(ctx, BranchCommit{Branch: side, Edit: edit("live-2")})
	if err != nil || !res.Pushed || res.Previous != first {
		t.Fatalf("second commit = %+v, %v", res, err)
	}
	if got := gitIn(t, f.Bare, "rev-parse", res.Commit+"^"); got != first {
		t.Errorf("second commit's parent = %s, want %s", got, first)
	}

	// Someone rewrites the branch elsewhere (force-push); a commit made on
	// the head we saw is refused, not forced.
	other := gitIn(t, f.Bare, "commit-tree", "-p", f.V3, "-m", "rewritten", f.V3+"^{tree}")
	stale := res.Commit
	res, err = r.CommitToBranch(ctx, BranchCommit{Branch: side, Edit: func(tree fs.FS) (map[string][]byte, string, error) {
		gitIn(t, f.Bare, "update-ref", "refs/heads/"+side, other)
		return edit("live-3")(tree)
	}})
	if !errors.Is(err, ErrBranchMoved) {
		t.Fatalf("push over a moved branch = %+v, %v; want ErrBranchMoved", res, err)
	}
	if got := gitIn(t, f.Bare, "rev-parse", "refs/heads/"+side); got != other || got == stale {
		t.Errorf("remote branch = %s, want the other writer's %s", got, other)
	}
	if _, err := r.CommitToBranch(ctx, BranchCommit{Branch: "main", Edit: edit("x")}); err == nil {
		t.Error("a commit to the tracked branch was accepted")
	}
}

// FetchRevision fetches a commit not fetched yet without reporting it as
// polled: the next Poll still sees the new head as a change.
func TestFetchRevision(t *testing.T) {
	ctx := context.Background()
	f := newRemote(t)
	r := openTestRepo(t, Config{URL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(f.Bare)}).String()})
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	next := f.PushCompeting(t, "v4")
	if _, err := r.Revision(ctx, next); !errors.Is(err, ErrUnknownRevision) {
		t.Fatalf("Revision of an unfetched commit = %v", err)
	}
	rev, err := r.FetchRevision(ctx, next)
	if err != nil || rev.SHA != next {
		t.Fatalf("FetchRevision = %v, %v", rev, err)
	}
	if rev, changed, err := r.Poll(ctx); err != nil || !changed || rev.SHA != next {
		t.Errorf("Poll after FetchRevision = %v, %v, %v; want the new head as a change", rev, changed, err)
	}
}
