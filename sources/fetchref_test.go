package sources

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// FetchRef fetches a pull request head over smart HTTP (as GitHub serves
// refs/pull/N/head), a branch and a SHA, never moving the tracked branch.
func TestFetchRef(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("apps/web/main.tf", "v1")
	base := g.Commit("base")
	g.Git("checkout", "-q", "-b", "feature")
	g.Write("apps/web/main.tf", "v2")
	head := g.Commit("feature")
	g.Git("checkout", "-q", "main")
	g.Git("update-ref", "refs/pull/7/head", head)
	srv, url := serve(t, g)
	r := openTestRepo(t, Config{URL: url})

	if _, err := r.FetchRef(ctx, "main"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("FetchRef of the tracked branch before a poll: %v", err)
	}
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	posts := countPOSTs(srv.Log())
	rev, err := r.FetchRef(ctx, PullRef(7))
	if err != nil {
		t.Fatal(err)
	}
	if rev.SHA != head || countPOSTs(srv.Log()) != posts+1 {
		t.Errorf("FetchRef = %s after %d fetches, want %s after 1", rev.SHA, countPOSTs(srv.Log())-posts, head)
	}
	if b, err := fs.ReadFile(rev.Tree, "apps/web/main.tf"); err != nil || string(b) != "v2" {
		t.Errorf("tree at the head: %q %v", b, err)
	}
	if cur, _ := r.Revision(ctx, "main"); cur.SHA != base || r.Head() != base {
		t.Errorf("the tracked branch moved to %s", cur.SHA)
	}
	if paths, err := r.ChangedPaths(ctx, base, head); err != nil || strings.Join(paths, ",") != "apps/web/main.tf" {
		t.Errorf("ChangedPaths(base, head) = %v %v", paths, err)
	}
	// A new push to the pull request: fetched again.
	g.Git("checkout", "-q", "feature")
	g.Write("apps/web/main.tf", "v3")
	head2 := g.Commit("feature 2")
	g.Git("checkout", "-q", "main")
	g.Git("update-ref", "refs/pull/7/head", head2)
	if rev, err := r.FetchRef(ctx, "refs/pull/7/head"); err != nil || rev.SHA != head2 {
		t.Errorf("FetchRef after a push = %v %v, want %s", rev, err, head2)
	}
	for _, ref := range []string{"feature", "refs/heads/feature", head2, "main"} {
		want := head2
		if ref == "main" {
			want = base
		}
		if rev, err := r.FetchRef(ctx, ref); err != nil || rev.SHA != want {
			t.Errorf("FetchRef(%s) = %v %v, want %s", ref, rev, err, want)
		}
	}
	if mb, err := r.MergeBase(ctx, base, head2); err != nil || mb != base {
		t.Errorf("MergeBase(base, head2) = %s %v, want %s", mb, err, base)
	}
	// A SHA not fetched yet is found among the remote's heads.
	g.Git("checkout", "-q", "-b", "other")
	other := g.Commit("other")
	g.Git("checkout", "-q", "main")
	if rev, err := r.FetchRef(ctx, other); err != nil || rev.SHA != other {
		t.Errorf("FetchRef(unfetched SHA) = %v %v", rev, err)
	}
	for _, bad := range []string{"refs/pull/8/head", "nope", "0123456789012345678901234567890123456789", "refs/tags/v1", "-x", "a..b", "refs/pull/0/head"} {
		if _, err := r.FetchRef(ctx, bad); !errors.Is(err, ErrUnknownRevision) {
			t.Errorf("FetchRef(%q) = %v, want ErrUnknownRevision", bad, err)
		}
	}
}
