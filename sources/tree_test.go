package sources

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/driftless/driftless/internal/testenv"
)

// treeFixture writes a work tree exercising every path-resolution rule.
func treeFixture(g *testenv.GitRepo) {
	g.Write("README.md", "hello")
	g.Write("apps/web/main.tf", "web")
	g.Write("apps/web/vars.tf", "vars")
	g.Write("apps/api/main.tf", "api")
	g.Write("shared/mod.tf", "shared")
	g.Write("bin/run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(g.Dir, "bin/run.sh"), 0o755); err != nil {
		g.T.Fatal(err)
	}
	g.Symlink("apps/api/mod.tf", "../../shared/mod.tf") // relative, inside
	g.Symlink("linkdir", "apps/web")                    // directory, inside
	g.Symlink("chain1", "chain2")                       // chained
	g.Symlink("chain2", "./apps/../README.md")
	g.Symlink("escape", "../../etc/passwd") // leads out
	g.Symlink("escapedir", "..")
	g.Symlink("abs", "/etc/passwd") // absolute
	g.Symlink("loopa", "loopb")     // loop
	g.Symlink("loopb", "loopa")
	g.Symlink("dangling", "nope")
	g.Symlink("apps/self", "..") // a directory containing the link
}

// fixtureTrees returns the fixture as a committed Revision's Tree and as a
// LocalTree of the work tree: both must behave alike.
func fixtureTrees(t *testing.T) map[string]fs.FS {
	g := testenv.NewGitRepo(t)
	treeFixture(g)
	sha := g.Commit("fixture")
	r := openTestRepo(t, Config{URL: g.URL()})
	rev, _, err := r.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rev.SHA != sha {
		t.Fatalf("polled %s, want %s", rev.SHA, sha)
	}
	return map[string]fs.FS{"git": rev.Tree, "local": LocalTree(g.Dir)}
}

func TestTreeReadFile(t *testing.T) {
	tests := []struct {
		path    string
		want    string
		wantErr error
	}{
		{path: "README.md", want: "hello"},
		{path: "apps/web/main.tf", want: "web"},
		{path: "apps/api/mod.tf", want: "shared"},
		{path: "linkdir/main.tf", want: "web"},
		{path: "chain1", want: "hello"},
		{path: "apps/self/README.md", want: "hello"},
		{path: "escape", wantErr: ErrOutsideRepo},
		{path: "escapedir/etc/passwd", wantErr: ErrOutsideRepo},
		{path: "abs", wantErr: ErrOutsideRepo},
		{path: "loopa", wantErr: errLinkLoop},
		{path: "dangling", wantErr: fs.ErrNotExist},
		{path: "missing.tf", wantErr: fs.ErrNotExist},
		{path: "README.md/x", wantErr: fs.ErrNotExist},
		{path: "../README.md", wantErr: fs.ErrInvalid},
		{path: "/README.md", wantErr: fs.ErrInvalid},
		{path: ".git/config", wantErr: fs.ErrNotExist},
	}
	for kind, tree := range fixtureTrees(t) {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.path, func(t *testing.T) {
				got, err := fs.ReadFile(tree, tt.path)
				if tt.wantErr != nil {
					var pe *fs.PathError
					if !errors.Is(err, tt.wantErr) || !errors.As(err, &pe) {
						t.Fatalf("ReadFile(%q) = %q, %v; want *fs.PathError wrapping %v", tt.path, got, err, tt.wantErr)
					}
					if pe.Path != tt.path {
						t.Errorf("PathError.Path = %q, want %q", pe.Path, tt.path)
					}
					return
				}
				if err != nil || string(got) != tt.want {
					t.Fatalf("ReadFile(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
				}
				// Open+Read agrees with ReadFile.
				f, err := tree.Open(tt.path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				b, err := io.ReadAll(f)
				if err != nil || string(b) != tt.want {
					t.Fatalf("Open+Read(%q) = %q, %v", tt.path, b, err)
				}
			})
		}
	}
}

func TestTreeStatAndReadDir(t *testing.T) {
	for kind, tree := range fixtureTrees(t) {
		t.Run(kind, func(t *testing.T) {
			stat := []struct {
				path string
				mode fs.FileMode
				size int64
			}{
				{"README.md", 0o644, 5},
				{"bin/run.sh", 0o755, 10},
				{"apps", fs.ModeDir | 0o755, 0},
				{".", fs.ModeDir | 0o755, 0},
				{"linkdir", fs.ModeDir | 0o755, 0},
				{"apps/api/mod.tf", 0o644, 6},
			}
			for _, s := range stat {
				fi, err := fs.Stat(tree, s.path)
				if err != nil {
					t.Fatalf("Stat(%q): %v", s.path, err)
				}
				if fi.Mode() != s.mode || fi.Size() != s.size {
					t.Errorf("Stat(%q) = mode %v size %d, want %v %d", s.path, fi.Mode(), fi.Size(), s.mode, s.size)
				}
				if want := filepath.Base(s.path); fi.Name() != want {
					t.Errorf("Stat(%q).Name() = %q, want %q", s.path, fi.Name(), want)
				}
			}
			if _, err := fs.Stat(tree, "escape"); !errors.Is(err, ErrOutsideRepo) {
				t.Errorf("Stat(escape) = %v, want ErrOutsideRepo", err)
			}

			ents, err := fs.ReadDir(tree, ".")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			types := map[string]fs.FileMode{}
			for _, e := range ents {
				names = append(names, e.Name())
				types[e.Name()] = e.Type()
			}
			want := []string{"README.md", "abs", "apps", "bin", "chain1", "chain2", "dangling", "escape", "escapedir", "linkdir", "loopa", "loopb", "shared"}
			if !slices.Equal(names, want) {
				t.Fatalf("ReadDir(.) = %q, want %q", names, want)
			}
			wantTypes := map[string]fs.FileMode{
				"README.md": 0, "apps": fs.ModeDir, "linkdir": fs.ModeDir, "chain1": 0,
				"escape": fs.ModeSymlink, "abs": fs.ModeSymlink, "escapedir": fs.ModeSymlink,
				"loopa": fs.ModeSymlink, "dangling": fs.ModeSymlink,
			}
			for n, ty := range wantTypes {
				if types[n] != ty {
					t.Errorf("entry %s type %v, want %v", n, types[n], ty)
				}
			}
			sub, err := fs.ReadDir(tree, "linkdir")
			if err != nil || len(sub) != 2 || sub[0].Name() != "main.tf" || sub[1].Name() != "vars.tf" {
				t.Errorf("ReadDir(linkdir) = %v, %v", sub, err)
			}
			if _, err := fs.ReadDir(tree, "escapedir"); !errors.Is(err, ErrOutsideRepo) {
				t.Errorf("ReadDir(escapedir) = %v, want ErrOutsideRepo", err)
			}
		})
	}
}

func TestTreeWalkAndGlob(t *testing.T) {
	for kind, tree := range fixtureTrees(t) {
		t.Run(kind, func(t *testing.T) {
			var files, links []string
			err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				switch {
				case d.Type()&fs.ModeSymlink != 0:
					links = append(links, p)
				case !d.IsDir():
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			wantFiles := []string{
				"README.md", "apps/api/main.tf", "apps/api/mod.tf", "apps/web/main.tf", "apps/web/vars.tf",
				"bin/run.sh", "chain1", "chain2", "linkdir/main.tf", "linkdir/vars.tf", "shared/mod.tf",
			}
			if !slices.Equal(files, wantFiles) {
				t.Errorf("walked files %q, want %q", files, wantFiles)
			}
			wantLinks := []string{"abs", "apps/self", "dangling", "escape", "escapedir", "loopa", "loopb"}
			if !slices.Equal(links, wantLinks) {
				t.Errorf("unfollowed links %q, want %q", links, wantLinks)
			}
			m, err := fs.Glob(tree, "apps/*/m*.tf")
			if want := []string{"apps/api/main.tf", "apps/api/mod.tf", "apps/web/main.tf"}; err != nil || !slices.Equal(m, want) {
				t.Errorf("Glob = %q, %v; want %q", m, err, want)
			}
			sub, err := fs.Sub(tree, "apps/web")
			if err != nil {
				t.Fatal(err)
			}
			if err := fstest.TestFS(sub, "main.tf", "vars.tf"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTreeConcurrent reads one Revision's Tree from several goroutines while
// Poll fetches new commits: run with -race.
func TestTreeConcurrent(t *testing.T) {
	g := testenv.NewGitRepo(t)
	treeFixture(g)
	for i := range 30 {
		g.Write("stacks/s"+string(rune('a'+i%26))+"/main.tf", "v1")
	}
	first := g.Commit("fixture")
	r := openTestRepo(t, Config{URL: g.URL()})
	ctx := context.Background()
	rev, _, err := r.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 6 {
		wg.Go(func() {
			for range 5 {
				err := fs.WalkDir(rev.Tree, ".", func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
						return err
					}
					_, err = fs.ReadFile(rev.Tree, p)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				if _, err := r.ChangedPaths(ctx, first, rev.SHA); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 3 {
			g.Write("stacks/sa/main.tf", "v"+string(rune('2'+i)))
			g.Commit("change")
			if _, _, err := r.Poll(ctx); err != nil {
				errs <- err
				return
			}
			if _, err := r.Revision(ctx, first[:8]); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b, err := fs.ReadFile(rev.Tree, "stacks/sa/main.tf"); err != nil || string(b) != "v1" {
		t.Errorf("old revision reads %q, %v; want v1", b, err)
	}
}
