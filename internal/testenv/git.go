package testenv

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fixed identity and clock of every commit made by GitRepo, so SHAs are
// reproducible: commit n is dated gitEpoch + n seconds.
const (
	GitAuthorName  = "Driftless Test"
	GitAuthorEmail = "test@driftless.test"
)

var gitEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// GitEnv is the environment every git process of a test runs with: no
// global or system config, no prompts, the fixed identity.
func GitEnv() []string {
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") {
			continue // GIT_DIR and friends from an enclosing git would leak in
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+GitAuthorName,
		"GIT_AUTHOR_EMAIL="+GitAuthorEmail,
		"GIT_COMMITTER_NAME="+GitAuthorName,
		"GIT_COMMITTER_EMAIL="+GitAuthorEmail,
	)
}

// GitRepo is a non-bare work repository made with the git CLI.
type GitRepo struct {
	Dir string
	T   testing.TB

	mu      sync.Mutex
	commits int
}

// NewGitRepo runs `git init -b main` in a new t.TempDir(). It needs git on
// PATH (Unavailable otherwise).
func NewGitRepo(t testing.TB) *GitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		Unavailable(t, "git not on PATH")
	}
	g := &GitRepo{Dir: t.TempDir(), T: t}
	g.Git("init", "-q", "-b", "main")
	return g
}

// Write creates or overwrites a file (parents created as needed).
func (g *GitRepo) Write(path, content string) {
	g.T.Helper()
	p := filepath.Join(g.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		g.T.Fatal(err)
	}
}

// Symlink creates (or replaces) a symbolic link at path pointing to target.
func (g *GitRepo) Symlink(path, target string) {
	g.T.Helper()
	p := filepath.Join(g.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.T.Fatal(err)
	}
	_ = os.Remove(p)
	if err := os.Symlink(target, p); err != nil {
		g.T.Fatal(err)
	}
}

// Remove deletes a file or directory tree.
func (g *GitRepo) Remove(path string) {
	g.T.Helper()
	if err := os.RemoveAll(filepath.Join(g.Dir, filepath.FromSlash(path))); err != nil {
		g.T.Fatal(err)
	}
}

// Commit stages everything and commits (empty commits allowed) as the fixed
// test author; it returns the new SHA.
func (g *GitRepo) Commit(msg string) string {
	g.T.Helper()
	return g.CommitAs(GitAuthorName, GitAuthorEmail, msg)
}

// CommitAs is Commit with another author (the committer stays fixed).
func (g *GitRepo) CommitAs(author, email, msg string) string {
	g.T.Helper()
	g.mu.Lock()
	g.commits++
	date := gitEpoch.Add(time.Duration(g.commits) * time.Second).Format(time.RFC3339)
	g.mu.Unlock()
	g.Git("add", "-A")
	g.run([]string{
		"GIT_AUTHOR_NAME=" + author, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date,
	}, "commit", "-q", "--allow-empty", "--no-verify", "-m", msg)
	return g.Git("rev-parse", "HEAD")
}

// Git runs git in Dir and returns its trimmed stdout; failure is fatal.
func (g *GitRepo) Git(args ...string) string {
	g.T.Helper()
	return g.run(nil, args...)
}

func (g *GitRepo) run(extraEnv []string, args ...string) string {
	g.T.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = g.Dir
	cmd.Env = append(GitEnv(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		g.T.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// URL is the file:// URL of Dir, usable by go-git and the git CLI.
func (g *GitRepo) URL() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(g.Dir)}).String()
}

// GitHTTPServer serves the repositories under a directory over Git's smart
// HTTP protocol (git-http-backend as CGI), recording each request.
type GitHTTPServer struct {
	URL      string       // base URL: repository NAME is URL+"/NAME"
	Requests atomic.Int64 // requests served

	mu  sync.Mutex
	log []string
}

// Log returns the requests served so far, each as "METHOD /path?query".
func (s *GitHTTPServer) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Reset clears the request count and log.
func (s *GitHTTPServer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
	s.Requests.Store(0)
}

// StartGitHTTP starts a smart-HTTP Git server for the repositories (bare or
// not) under root; it stops when t ends.
func StartGitHTTP(t testing.TB, root string) *GitHTTPServer {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		Unavailable(t, fmt.Sprintf("git --exec-path: %v", err))
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		Unavailable(t, "git-http-backend not installed: "+err.Error())
	}
	s := &GitHTTPServer{}
	h := &cgi.Handler{
		Path: backend,
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_NOSYSTEM=1",
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		s.mu.Lock()
		s.log = append(s.log, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// ServeGitHTTP is StartGitHTTP returning just the base URL and the request
// counter.
func ServeGitHTTP(t testing.TB, root string) (baseURL string, requests *atomic.Int64) {
	t.Helper()
	s := StartGitHTTP(t, root)
	return s.URL, &s.Requests
}
