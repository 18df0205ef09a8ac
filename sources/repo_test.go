package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"
)

// openTestRepo opens cfg (Name and Dir defaulted) and fails t on error.
func openTestRepo(t testing.TB, cfg Config) *Repo {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "platform"
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "git", cfg.Name)
	}
	r, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// serve serves g over smart HTTP and returns the server and g's URL on it.
func serve(t testing.TB, g *testenv.GitRepo) (*testenv.GitHTTPServer, string) {
	srv := testenv.StartGitHTTP(t, filepath.Dir(g.Dir))
	return srv, srv.URL + "/" + filepath.Base(g.Dir)
}

func countPOSTs(log []string) int {
	n := 0
	for _, l := range log {
		if strings.HasPrefix(l, "POST ") {
			n++
		}
	}
	return n
}

func TestPollOverHTTP(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("apps/web/main.tf", "v1")
	c1 := g.CommitAs("Ada Lovelace", "ada@example.test", "Add web (#41)\n\nBody.")
	srv, url := serve(t, g)
	r := openTestRepo(t, Config{URL: url, Auth: Auth{Token: "tok-unused-by-server"}})
	if r.Head() != "" {
		t.Fatalf("Head before Poll = %q", r.Head())
	}

	rev, changed, err := r.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !changed || rev.SHA != c1 || r.Head() != c1 {
		t.Fatalf("first Poll = %s changed=%v, want %s changed", rev.SHA, changed, c1)
	}
	want := Revision{Repo: "platform", Branch: "main", SHA: c1, Author: "Ada Lovelace",
		AuthorEmail: "ada@example.test", Message: "Add web (#41)\n\nBody.\n", PR: 41}
	got := *rev
	got.Tree, got.Time = nil, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Revision = %+v\nwant %+v", got, want)
	}
	if wantTime := time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC); !rev.Time.Equal(wantTime) {
		t.Errorf("Time = %v, want %v", rev.Time, wantTime)
	}

	// Unchanged: exactly one ref advertisement, no upload-pack POST.
	srv.Reset()
	rev, changed, err = r.Poll(ctx)
	if err != nil || changed || rev.SHA != c1 {
		t.Fatalf("second Poll = %v changed=%v err=%v", rev, changed, err)
	}
	wantLog := []string{"GET /" + filepath.Base(g.Dir) + "/info/refs?service=git-upload-pack"}
	if log := srv.Log(); !slices.Equal(log, wantLog) {
		t.Errorf("unchanged Poll requests = %q, want %q", log, wantLog)
	}
	if b, err := fs.ReadFile(rev.Tree, "apps/web/main.tf"); err != nil || string(b) != "v1" {
		t.Errorf("Tree read %q, %v", b, err)
	}

	// Moved: fetched.
	g.Write("apps/web/main.tf", "v2")
	c2 := g.Commit("Merge pull request #42 from acme/v2")
	srv.Reset()
	rev, changed, err = r.Poll(ctx)
	if err != nil || !changed || rev.SHA != c2 || rev.PR != 42 {
		t.Fatalf("Poll after push = %v changed=%v err=%v", rev, changed, err)
	}
	if n := countPOSTs(srv.Log()); n != 1 {
		t.Errorf("fetch made %d upload-pack POSTs, want 1: %q", n, srv.Log())
	}
	if b, _ := fs.ReadFile(rev.Tree, "apps/web/main.tf"); string(b) != "v2" {
		t.Errorf("new Tree reads %q", b)
	}

	// Force-push: c2 replaced by c3 (not a descendant).
	g.Git("reset", "-q", "--hard", c1)
	g.Write("apps/web/main.tf", "v3")
	c3 := g.Commit("rewrite")
	rev, changed, err = r.Poll(ctx)
	if err != nil || !changed || rev.SHA != c3 {
		t.Fatalf("Poll after force-push = %v changed=%v err=%v", rev, changed, err)
	}
	if b, _ := fs.ReadFile(rev.Tree, "apps/web/main.tf"); string(b) != "v3" {
		t.Errorf("force-pushed Tree reads %q", b)
	}
	// The replaced commit stays readable (rollback).
	old, err := r.Revision(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := fs.ReadFile(old.Tree, "apps/web/main.tf"); string(b) != "v2" {
		t.Errorf("old Tree reads %q", b)
	}

	// Force-push back to a commit already stored: no transfer.
	g.Git("reset", "-q", "--hard", c2)
	srv.Reset()
	rev, changed, err = r.Poll(ctx)
	if err != nil || !changed || rev.SHA != c2 {
		t.Fatalf("Poll after reset to known commit = %v changed=%v err=%v", rev, changed, err)
	}
	if n := countPOSTs(srv.Log()); n != 0 {
		t.Errorf("known commit was fetched: %q", srv.Log())
	}
	if s := r.Stats(); s != (Stats{Polls: 5, Lists: 5, Fetches: 3, Failures: 0}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPollLocalPaths(t *testing.T) {
	g := testenv.NewGitRepo(t)
	sha := g.Commit("initial")
	for name, url := range map[string]string{"file-url": g.URL(), "path": g.Dir} {
		t.Run(name, func(t *testing.T) {
			r := openTestRepo(t, Config{URL: url})
			rev, changed, err := r.Poll(context.Background())
			if err != nil || !changed || rev.SHA != sha {
				t.Fatalf("Poll = %v, %v, %v", rev, changed, err)
			}
		})
	}
}

func TestPollMissingBranch(t *testing.T) {
	g := testenv.NewGitRepo(t)
	g.Commit("initial")
	_, url := serve(t, g)
	r := openTestRepo(t, Config{URL: url, Branch: "release-7"})
	_, _, err := r.Poll(context.Background())
	if !errors.Is(err, ErrBranchNotFound) || !strings.Contains(err.Error(), "release-7") {
		t.Fatalf("Poll of missing branch = %v, want ErrBranchNotFound naming it", err)
	}
	if s := r.Stats(); s.Failures != 1 || s.Fetches != 0 {
		t.Errorf("Stats = %+v", s)
	}
	empty := testenv.NewGitRepo(t)
	r = openTestRepo(t, Config{URL: empty.URL()})
	if _, _, err := r.Poll(context.Background()); !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("Poll of empty repo = %v, want ErrBranchNotFound", err)
	}
}

// TestPollErrorsHideToken makes Poll fail in several ways with a token in
// the config and checks that neither the error nor the log carries it.
func TestPollErrorsHideToken(t *testing.T) {
	const token = "ghp_SuperSecretToken123"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "denied", http.StatusForbidden)
	}))
	defer deny.Close()
	unauth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
		http.Error(w, "who are you", http.StatusUnauthorized)
	}))
	defer unauth.Close()

	tests := []struct {
		name string
		cfg  Config
	}{
		{"refused, token in auth", Config{URL: refused + "/acme/platform.git", Auth: Auth{Token: token}}},
		{"refused, token in URL", Config{URL: "http://x-access-token:" + token + "@" + strings.TrimPrefix(refused, "http://") + "/acme/platform.git"}},
		{"forbidden", Config{URL: deny.URL + "/acme/platform.git", Auth: Auth{Token: token, Username: "bot"}}},
		{"unauthorized, token in URL and auth", Config{URL: strings.Replace(unauth.URL, "http://", "http://bot:"+token+"@", 1) + "/p.git", Auth: Auth{Token: token}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.cfg.Name, tt.cfg.Dir = "platform", t.TempDir()
			r, err := Open(context.Background(), tt.cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, _, err = r.Poll(ctx)
			if err == nil {
				t.Fatal("Poll succeeded")
			}
			full := fmt.Sprintf("%v | %+v | %#v", err, err, errors.Unwrap(err))
			if strings.Contains(full, token) || strings.Contains(logs.String(), token) {
				t.Fatalf("token leaked: %s\nlogs: %s", full, logs.String())
			}
			if r.Stats().Failures != 1 {
				t.Errorf("Stats = %+v", r.Stats())
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestReopenKeepsHistory(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("a", "1")
	c1 := g.Commit("one")
	g.Write("a", "2")
	c2 := g.Commit("two")
	srv, url := serve(t, g)
	dir := filepath.Join(t.TempDir(), "state", "git", "platform")
	r := openTestRepo(t, Config{URL: url, Dir: dir})
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}

	srv.Reset()
	r2 := openTestRepo(t, Config{URL: url, Dir: dir}) // a restart
	if _, err := r2.Revision(ctx, c1); err != nil {
		t.Fatalf("history lost before Poll: %v", err)
	}
	rev, changed, err := r2.Poll(ctx)
	if err != nil || !changed || rev.SHA != c2 {
		t.Fatalf("Poll after reopen = %v, %v, %v", rev, changed, err)
	}
	if n := countPOSTs(srv.Log()); n != 0 || r2.Stats().Fetches != 0 {
		t.Errorf("reopened repo refetched: %q, %+v", srv.Log(), r2.Stats())
	}
}

func TestRevisionLookup(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	c1 := g.Commit("one")
	c2 := g.Commit("two")
	r := openTestRepo(t, Config{URL: g.URL()})
	if _, err := r.Revision(ctx, "main"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("Revision(main) before Poll = %v, want ErrUnknownRevision", err)
	}
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	notFetched := g.Commit("three")
	tests := []struct {
		rev  string
		want string // "" for ErrUnknownRevision
	}{
		{c1, c1},
		{c2[:7], c2},
		{c1[:4], c1},
		{c1[:5], c1},
		{strings.ToUpper(c2), c2},
		{"main", c2},
		{notFetched, ""},
		{notFetched[:10], ""},
		{"0000000000000000000000000000000000000000", ""},
		{c1[:3], ""},
		{"feature", ""},
		{"", ""},
		{"xyz1234", ""},
	}
	for _, tt := range tests {
		rev, err := r.Revision(ctx, tt.rev)
		if tt.want == "" {
			if !errors.Is(err, ErrUnknownRevision) {
				t.Errorf("Revision(%q) = %v, %v; want ErrUnknownRevision", tt.rev, rev, err)
			}
			continue
		}
		if err != nil || rev.SHA != tt.want || rev.Repo != "platform" {
			t.Errorf("Revision(%q) = %v, %v; want %s", tt.rev, rev, err, tt.want)
		}
	}
}

func TestChangedPathsAndAncestry(t *testing.T) {
	ctx := context.Background()
	g := testenv.NewGitRepo(t)
	g.Write("a.tf", "a")
	g.Write("dir/b.tf", "b")
	g.Write("dir/c.tf", "c")
	c1 := g.Commit("add")
	g.Write("a.tf", "a2")
	c2 := g.Commit("modify")
	g.Remove("dir/b.tf")
	c3 := g.Commit("delete")
	g.Remove("dir/c.tf")
	g.Write("moved/c.tf", "c") // same content: a rename to git
	c4 := g.Commit("rename")
	g.Write("new.tf", "n")
	r := openTestRepo(t, Config{URL: g.URL()})
	if _, _, err := r.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	missing := g.Commit("not fetched")

	tests := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"modify", c1, c2, []string{"a.tf"}},
		{"delete", c2, c3, []string{"dir/b.tf"}},
		{"rename", c3, c4, []string{"dir/c.tf", "moved/c.tf"}},
		{"span", c1, c4, []string{"a.tf", "dir/b.tf", "dir/c.tf", "moved/c.tf"}},
		{"backwards", c4, c1, []string{"a.tf", "dir/b.tf", "dir/c.tf", "moved/c.tf"}},
		{"same", c2, c2, nil},
		{"short SHAs", c1[:7], c2[:7], []string{"a.tf"}},
	}
	for _, tt := range tests {
		got, err := r.ChangedPaths(ctx, tt.from, tt.to)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: ChangedPaths = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := r.ChangedPaths(ctx, c1, missing); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("ChangedPaths to unfetched commit = %v, want ErrUnknownRevision", err)
	}

	anc := []struct {
		a, b string
		want bool
	}{
		{c1, c4, true},
		{c4, c1, false},
		{c2, c2, true},
		{c3, c4, true},
	}
	for _, tt := range anc {
		got, err := r.IsAncestor(ctx, tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("IsAncestor(%.7s, %.7s) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := r.IsAncestor(ctx, missing, c1); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("IsAncestor with unfetched commit = %v", err)
	}
}

func TestOpenValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ssh needs known hosts", Config{URL: "git@github.com:acme/platform.git", Auth: Auth{SSHKeyFile: "/nonexistent"}}, "known_hosts_file"},
		{"ssh key missing", Config{URL: "ssh://git@example.test/acme/p.git", Auth: Auth{SSHKeyFile: "/nonexistent/key", KnownHostsFile: "/nonexistent/kh"}}, "/nonexistent/key"},
		{"bad branch", Config{URL: "https://example.test/p.git", Branch: "a b"}, "invalid branch"},
		{"no URL", Config{}, "URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name, tt.cfg.Dir = "platform", t.TempDir()
			_, err := Open(context.Background(), tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// TestOpenFeedsSharedRedactor checks that Open adds the repository's token
// and the password in its URL to the redactor it is given.
func TestOpenFeedsSharedRedactor(t *testing.T) {
	red := redact.New()
	cfg := Config{Name: "platform", Dir: t.TempDir(), Redactor: red,
		URL:  "https://bot:url-pass-0042@git.example.test/acme/platform.git",
		Auth: Auth{Token: "ghp_shared_token_0042"}}
	if _, err := Open(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ghp_shared_token_0042", "url-pass-0042"} {
		if got := red.String("x " + s + " y"); got != "x "+redact.Mask+" y" {
			t.Errorf("shared redactor after Open: %q", got)
		}
	}
}
