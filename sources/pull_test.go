package sources

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// TestPullIsOneSession: after a push, Pull lists and fetches in one
// session (one ref listing, one pack request: a round trip fewer than
// Poll's listing then fetch); with nothing pushed it is one listing and no
// transfer; a force-push back to a stored commit moves the branch without
// a transfer; reading the new commit works at once.
func TestPullIsOneSession(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("a", "1")
	c1 := g.Commit("one")
	srv, url := serve(t, g)
	r := openTestRepo(t, Config{URL: url})
	if rev, changed, err := r.Pull(ctx); err != nil || !changed || rev.SHA != c1 {
		t.Fatalf("first Pull = %v, %v, %v", rev, changed, err)
	}

	g.Write("a", "2")
	c2 := g.Commit("two (#7)")
	srv.Reset()
	rev, changed, err := r.Pull(ctx)
	if err != nil || !changed || rev.SHA != c2 || rev.PR != 7 {
		t.Fatalf("Pull after a push = %+v, %v, %v", rev, changed, err)
	}
	if b, err := fs.ReadFile(rev.Tree, "a"); err != nil || string(b) != "2" {
		t.Fatalf("a at the pulled commit = %q, %v", b, err)
	}
	if log := srv.Log(); len(log) != 2 || countPOSTs(log) != 1 {
		t.Errorf("Pull after a push made requests %q, want one listing and one pack request", log)
	}

	srv.Reset()
	if rev, changed, err := r.Pull(ctx); err != nil || changed || rev.SHA != c2 {
		t.Fatalf("Pull with nothing pushed = %v, %v, %v", rev, changed, err)
	}
	if log := srv.Log(); len(log) != 1 || countPOSTs(log) != 0 {
		t.Errorf("Pull with nothing pushed made requests %q, want one listing", log)
	}

	g.Git("reset", "-q", "--hard", c1) // a force-push back
	srv.Reset()
	if rev, changed, err := r.Pull(ctx); err != nil || !changed || rev.SHA != c1 {
		t.Fatalf("Pull after a force-push back = %v, %v, %v", rev, changed, err)
	}
	if n := countPOSTs(srv.Log()); n != 0 {
		t.Errorf("a force-push back to a stored commit transferred: %q", srv.Log())
	}
	if s := r.Stats(); s.Polls != 4 || s.Fetches != 4 || s.Failures != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestPullMissingBranch: a branch the remote lacks is ErrBranchNotFound,
// as with Poll.
func TestPullMissingBranch(t *testing.T) {
	g := testenv.NewGitRepo(t)
	g.Write("a", "1")
	g.Commit("one")
	_, url := serve(t, g)
	r := openTestRepo(t, Config{URL: url, Branch: "release"})
	if _, _, err := r.Pull(context.Background()); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("Pull of a missing branch = %v, want ErrBranchNotFound", err)
	}
}
