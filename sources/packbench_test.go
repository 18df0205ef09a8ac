package sources

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
)

// BenchmarkPollAfterFetches measures a Poll that fetches one new commit
// (and the read of a file of it) after the clone took that many fetches
// already, each of which left a pack and was followed by an idle poll (the
// interval's, which merges): with the merge, and with it disabled. Run with a fixed count (-benchtime=100x): every iteration
// adds a commit. Without the merge the cost grows with the number of
// packs. cpu-ms/op is this process's CPU (go-git; the HTTP server's
// git-http-backend runs in child processes).
func BenchmarkPollAfterFetches(b *testing.B) {
	for _, merge := range []bool{true, false} {
		for _, fetches := range []int{50, 400} {
			b.Run(fmt.Sprintf("merge=%v/fetches=%d", merge, fetches), func(b *testing.B) {
				benchPollAfterFetches(b, merge, fetches)
			})
		}
	}
}

func benchPollAfterFetches(b *testing.B, merge bool, fetches int) {
	const spare = 1000 // commits for the timed iterations
	g := testenv.NewGitRepo(b)
	shas := fastImportChain(b, g, fetches+spare)
	_, url := serve(b, g)
	r := openTestRepo(b, Config{URL: url})
	if !merge {
		r.packLimit = 1 << 30
	}
	ctx := context.Background()
	step := 0
	push := func() {
		g.Git("update-ref", "refs/heads/main", shas[step])
		step++
	}
	poll := func() {
		rev, changed, err := r.Poll(ctx)
		if err != nil || !changed || rev.SHA != shas[step-1] {
			b.Fatalf("Poll = %v, %v, %v; want %s", rev, changed, err, shas[step-1])
		}
		if _, err := fs.ReadFile(rev.Tree, "shared.tf"); err != nil {
			b.Fatal(err)
		}
	}
	// The interval's polls between pushes find the branch unchanged:
	// that is when the small packs are merged (mergeIdle).
	idle := func() {
		if _, changed, err := r.Poll(ctx); err != nil || changed {
			b.Fatalf("idle Poll = %v, %v", changed, err)
		}
	}
	for range fetches + 1 {
		push()
		poll()
		idle()
	}
	if b.N > spare {
		b.Fatalf("b.N = %d: run with -benchtime=Nx, N ≤ %d", b.N, spare)
	}
	b.ResetTimer()
	var cpu time.Duration // this process's: go-git, not git-http-backend
	for range b.N {
		b.StopTimer()
		push()
		cpu0 := cpuTime(b, syscall.RUSAGE_SELF)
		b.StartTimer()
		poll()
		b.StopTimer()
		cpu += cpuTime(b, syscall.RUSAGE_SELF) - cpu0
		idle()
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	packs, err := listPacks(r.cfg.Dir + "/objects/pack")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(packs)), "packs")
}

// fastImportChain writes n commits on refs/heads/chain (each rewrites
// shared.tf and one of 100 app files) and returns their SHAs, oldest first.
func fastImportChain(b *testing.B, g *testenv.GitRepo, n int) []string {
	var s bytes.Buffer
	for c := range n {
		fmt.Fprintf(&s, "commit refs/heads/chain\nmark :%d\n", c+1)
		fmt.Fprintf(&s, "committer Bench <bench@driftless.test> %d +0000\n", 1704067200+c)
		fmt.Fprintf(&s, "data 9\nchange %02d\n", c%100)
		if c > 0 {
			fmt.Fprintf(&s, "from :%d\n", c)
		}
		for _, f := range []struct{ path, content string }{
			{"shared.tf", fmt.Sprintf("shared %d\n", c)},
			{fmt.Sprintf("apps/app%02d/main.tf", c%100), fmt.Sprintf("app %d\n", c)},
		} {
			fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", f.path, len(f.content), f.content)
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = g.Dir, testenv.GitEnv(), &s
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, out)
	}
	shas := strings.Fields(g.Git("rev-list", "--reverse", "refs/heads/chain"))
	if len(shas) != n {
		b.Fatalf("%d commits, want %d", len(shas), n)
	}
	return shas
}
