package sources

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/testenv"
)

// TestChangedPathsMatchesGit checks ChangedPaths against `git diff
// --no-renames --name-only` on commits that exercise every kind of change:
// content, mode, additions and removals deep in trees, a file replaced by a
// directory and back, symlinks, whole subtrees appearing and vanishing.
func TestChangedPathsMatchesGit(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	chmod := func(p string, mode os.FileMode) {
		if err := os.Chmod(filepath.Join(g.Dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	var revs []string
	commit := func(msg string) { revs = append(revs, g.Commit(msg)) }

	for i := range 20 {
		g.Write(fmt.Sprintf("infra/s%02d/main.tf", i), "v0")
	}
	g.Write("deploy/stacks.hcl", "stacks")
	g.Write("top.txt", "top")
	commit("initial")
	g.Write("infra/s07/main.tf", "v1")
	commit("one stack")
	chmod("top.txt", 0o755)
	commit("mode only")
	g.Write("infra/s03/modules/net/main.tf", "net")
	g.Write("infra/s03/modules/net/vars.tf", "vars")
	commit("deep additions")
	g.Remove("infra/s03/modules")
	commit("deep removal")
	g.Remove("top.txt")
	g.Write("top.txt/inner.txt", "now a dir")
	commit("file to directory")
	g.Remove("top.txt")
	g.Write("top.txt", "a file again")
	commit("directory to file")
	g.Symlink("infra/link", "s01")
	commit("symlink")
	g.Remove("infra/s19")
	g.Write("extra/a/b/c.tf", "c")
	commit("subtree gone, subtree added")
	commit("empty")

	r := openTestRepo(t, Config{URL: g.URL()})
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(from, to string) {
		t.Helper()
		want := strings.Fields(g.Git("diff", "--no-renames", "--name-only", from, to))
		slices.Sort(want)
		got, err := r.ChangedPaths(ctx, from, to)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ChangedPaths(%.7s, %.7s) = %q, %v; git says %q", from, to, got, err, want)
		}
	}
	for i := 1; i < len(revs); i++ {
		check(revs[i-1], revs[i])
		check(revs[i], revs[i-1])
		check(revs[0], revs[i])
	}

	// Results are memoised: a caller changing the slice it got must not
	// change what the next caller gets.
	got, err := r.ChangedPaths(ctx, revs[0], revs[1])
	if err != nil || len(got) != 1 {
		t.Fatalf("ChangedPaths = %q, %v", got, err)
	}
	got[0] = "tampered"
	check(revs[0], revs[1])
}
