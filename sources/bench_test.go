package sources

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
)

// Shape of the benchmark repository: a realistic GitOps repo.
const (
	benchCommits = 200
	benchFiles   = 300
)

// benchRepo builds a repository of benchCommits commits over benchFiles
// files (each commit changes three of them) with git fast-import, and serves
// it over smart HTTP from a separate process, so that neither the server's
// CPU nor its children's is counted in this process's rusage.
func benchRepo(b *testing.B) (*benchServer, string) {
	b.Helper()
	g := testenv.NewGitRepo(b)
	var s bytes.Buffer
	blob := func(path, content string) {
		fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
	}
	path := func(i int) string {
		return fmt.Sprintf("stacks/team%02d/app%03d/main.tf", i%12, i)
	}
	for c := range benchCommits {
		msg := fmt.Sprintf("Change %d (#%d)", c, c+1)
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c) * time.Minute).Unix()
		fmt.Fprintf(&s, "commit refs/heads/main\nmark :%d\n", c+1)
		fmt.Fprintf(&s, "author Bench <bench@driftless.test> %d +0000\ncommitter Bench <bench@driftless.test> %d +0000\n", ts, ts)
		fmt.Fprintf(&s, "data %d\n%s\n", len(msg), msg)
		if c == 0 {
			for i := range benchFiles {
				blob(path(i), fmt.Sprintf("resource \"terraform_data\" \"app%d\" {\n  input = %d\n}\n", i, 0))
			}
			continue
		}
		fmt.Fprintf(&s, "from :%d\n", c)
		for k := range 3 {
			i := (c*7 + k*101) % benchFiles
			blob(path(i), fmt.Sprintf("resource \"terraform_data\" \"app%d\" {\n  input = %d\n}\n", i, c))
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = g.Dir, testenv.GitEnv(), &s
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, out)
	}
	srv := startBenchServer(b, filepath.Dir(g.Dir))
	return srv, srv.url + "/" + filepath.Base(g.Dir)
}

// benchServerEnv makes TestBenchGitHTTPServer serve the directory it names.
const benchServerEnv = "DRIFTLESS_BENCH_GIT_HTTP_ROOT"

// TestBenchGitHTTPServer is not a test: it is the smart-HTTP server process
// of the benchmarks (started by startBenchServer), skipped otherwise. On
// stdin, "reset" zeroes its request count and CPU baseline; "stats" prints
// the requests served and the CPU (its own and its git-http-backend
// children's) since.
func TestBenchGitHTTPServer(t *testing.T) {
	root := os.Getenv(benchServerEnv)
	if root == "" {
		t.Skip("helper process of the benchmarks")
	}
	srv := testenv.StartGitHTTP(t, root)
	fmt.Printf("URL %s\n", srv.URL)
	cpu := func() time.Duration { return cpuTime(t, syscall.RUSAGE_SELF) + cpuTime(t, syscall.RUSAGE_CHILDREN) }
	base := cpu()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "reset":
			srv.Reset()
			base = cpu()
			fmt.Println("ok")
		case "stats":
			fmt.Printf("%d %d\n", srv.Requests.Load(), int64(cpu()-base))
		}
	}
}

// benchServer talks to a TestBenchGitHTTPServer process.
type benchServer struct {
	url string
	in  io.WriteCloser
	out *bufio.Scanner
}

func startBenchServer(b *testing.B, root string) *benchServer {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchGitHTTPServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+root)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &benchServer{in: in, out: bufio.NewScanner(outR)}
	b.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	for s.out.Scan() {
		if u, ok := strings.CutPrefix(s.out.Text(), "URL "); ok {
			s.url = u
			return s
		}
	}
	b.Fatalf("benchmark git server did not start: %v", s.out.Err())
	return nil
}

func (s *benchServer) ask(b *testing.B, cmd string) string {
	if _, err := fmt.Fprintln(s.in, cmd); err != nil {
		b.Fatal(err)
	}
	if !s.out.Scan() {
		b.Fatalf("benchmark git server: %v", s.out.Err())
	}
	return s.out.Text()
}

func (s *benchServer) reset(b *testing.B) { s.ask(b, "reset") }

// stats returns the requests served and the server's CPU since reset.
func (s *benchServer) stats(b *testing.B) (int64, time.Duration) {
	var n, ns int64
	if _, err := fmt.Sscan(s.ask(b, "stats"), &n, &ns); err != nil {
		b.Fatal(err)
	}
	return n, time.Duration(ns)
}

// cpuTime is the user+system CPU of this process (who=RUSAGE_SELF) or of its
// waited-for children (RUSAGE_CHILDREN).
func cpuTime(b testing.TB, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds round-trips/op (HTTP requests per operation), cpu-ms/op (the
// client's CPU: this process for go-git, the git processes for the CLI) and
// server-cpu-ms/op (the HTTP server process and its git-http-backend CGIs).
func report(b *testing.B, requests int64, client, server time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(requests)/n, "round-trips/op")
	b.ReportMetric(float64(client)/float64(time.Millisecond)/n, "cpu-ms/op")
	b.ReportMetric(float64(server)/float64(time.Millisecond)/n, "server-cpu-ms/op")
}

// BenchmarkPollUnchanged polls a repository whose branch did not move: one
// ref listing, no fetch.
func BenchmarkPollUnchanged(b *testing.B) {
	srv, url := benchRepo(b)
	r := openTestRepo(b, Config{URL: url})
	ctx := context.Background()
	first, _, err := r.Poll(ctx)
	if err != nil {
		b.Fatal(err)
	}
	srv.reset(b)
	self0 := cpuTime(b, syscall.RUSAGE_SELF)
	for b.Loop() {
		rev, changed, err := r.Poll(ctx)
		if err != nil || changed || rev.SHA != first.SHA {
			b.Fatalf("Poll = %v, %v, %v", rev, changed, err)
		}
	}
	self := cpuTime(b, syscall.RUSAGE_SELF) - self0
	requests, server := srv.stats(b)
	report(b, requests, self, server)
	if s := r.Stats(); s.Fetches != 1 {
		b.Fatalf("unchanged polls fetched: %+v", s)
	}
}

// BenchmarkGitFetchUnchanged is the baseline: `git fetch` (the CLI) of the
// same unchanged repository over the same server.
func BenchmarkGitFetchUnchanged(b *testing.B) {
	srv, url := benchRepo(b)
	clone := filepath.Join(b.TempDir(), "clone.git")
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Env = testenv.GitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("clone", "-q", "--bare", "--single-branch", "--branch", "main", url, clone)
	srv.reset(b)
	child0 := cpuTime(b, syscall.RUSAGE_CHILDREN)
	for b.Loop() {
		git("-C", clone, "fetch", "-q", "origin", "+refs/heads/main:refs/heads/main")
	}
	child := cpuTime(b, syscall.RUSAGE_CHILDREN) - child0
	requests, server := srv.stats(b)
	report(b, requests, child, server)
}
