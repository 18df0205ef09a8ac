package manifest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless/driftless/sources"
)

// bombTree writes a repository with the files the bombs read: a 100 MiB
// sparse file, a 3 MiB JSON document and deeply nested JSON.
func bombTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("infra/a/main.tf", "")
	write("big.bin", "")
	if err := os.Truncate(filepath.Join(dir, "big.bin"), 100<<20); err != nil {
		t.Fatal(err)
	}
	write("doc.json", `"`+strings.Repeat("a", 3<<20)+`"`)
	write("deep.json", strings.Repeat("[", 1<<20)+strings.Repeat("]", 1<<20))
	return dir
}

// memUse runs f and reports the bytes it allocated in all (TotalAlloc) and
// the peak growth of the live heap, sampled every millisecond.
func memUse(f func()) (total, peak uint64, took time.Duration) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var mu sync.Mutex
	maxHeap := before.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				mu.Lock()
				maxHeap = max(maxHeap, m.HeapAlloc)
				mu.Unlock()
			}
		}
	}()
	start := time.Now()
	f()
	took = time.Since(start)
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	mu.Lock()
	defer mu.Unlock()
	maxHeap = max(maxHeap, after.HeapAlloc)
	return after.TotalAlloc - before.TotalAlloc, maxHeap - before.HeapAlloc, took
}

// bombCase is a manifest m.hcl meant to exhaust memory or time, loaded
// with the files of bombTree.
type bombCase struct {
	name, src string
	want      []string // the first diagnostic starts with want[0] and contains the others
}

func bombCases() []bombCase {
	stack := func(expr string) string {
		return "stack \"a\" {\n  path = \"infra/a\"\n  vars = { x = " + expr + " }\n}\n"
	}
	chain := "[" + strings.Repeat(`jsondecode(file("doc.json")), `, 12) + "]"
	return []bombCase{
		{"nested for, 2 levels", stack("[for i in range(1024) : [for j in range(1024) : i * j]]"),
			[]string{"m.hcl:3:16: Evaluation limit exceeded: These for expressions would produce more than 100000 elements"}},
		{"nested for, 3 levels", stack("[for i in range(1024) : [for j in range(1024) : [for k in range(1024) : i * j * k]]]"),
			[]string{"m.hcl:3:16: Evaluation limit exceeded: These for expressions would produce more than 100000 elements"}},
		{"nested for, inner depends on outer", stack("[for i in range(1024) : [for j in range(i) : j]]"),
			[]string{"m.hcl:3:16: Evaluation limit exceeded"}},
		{"nested for in a template", stack(`"%{for i in range(1024)}%{for j in range(1024)}x%{endfor}%{endfor}"`),
			[]string{"m.hcl:3:17: Evaluation limit exceeded"}},
		{"nested for in a shared attribute", "stack \"a\" {\n  path = \"infra/a\"\n  ignore_drift = [for i in range(1024) : [for j in range(1024) : \"x\"]]\n}\n",
			[]string{"m.hcl:3:18: Evaluation limit exceeded"}},
		{"template repeating a big string", stack(`[for s in [jsondecode(file("doc.json"))] : "%{for i in range(1024)}${s}%{endfor}"]`),
			[]string{"m.hcl:3:16: Evaluation limit exceeded: These for expressions would produce more than 64 MiB"}},
		{"template repeating a big literal", stack(`"%{for i in range(1024)}` + strings.Repeat("x", 1<<20) + `%{endfor}"`),
			[]string{"m.hcl:3:17: Evaluation limit exceeded: These for expressions would produce more than 64 MiB"}},
		{"format width", stack(`format("%100000000s", "x")`),
			[]string{"m.hcl:3:16: Error in function call", `"%100000000s": widths and precisions in format verbs are at most 1024`}},
		{"formatlist width", stack(`formatlist("%100000000s", range(10))`),
			[]string{"m.hcl:3:16: Error in function call", "widths and precisions in format verbs are at most 1024"}},
		{"formatlist wide", stack(`formatlist("%1000s%1000s%1000s%1000s%1000s", range(1024), range(1024), range(1024), range(1024), range(1024))`),
			[]string{"m.hcl:3:16: Error in function call", "more than the 4 MiB allowed"}},
		{"file of 100 MiB", stack(`file("big.bin")`),
			[]string{"m.hcl:3:16: Error in function call", `"big.bin" is 104857600 bytes long, more than the 4 MiB allowed`}},
		{"jsondecode(file()) over the total read", stack(chain),
			[]string{"m.hcl:3:328: Error in function call", `reading "doc.json" goes over the 32 MiB the manifests may read in all`}},
		{"deeply nested JSON", stack(`jsondecode(file("deep.json"))`),
			[]string{"m.hcl:3:16: Error in function call", "more than the 100000 allowed"}},
		{"deeply nested JSON, few values", stack(`jsondecode("` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `")`),
			[]string{"m.hcl:3:16: Error in function call", "arrays and objects nest more than 256 deep"}},
		{"deeply nested lists", stack(strings.Repeat("[", 300) + strings.Repeat("]", 300)),
			[]string{"m.hcl:3:270: Manifest too deeply nested"}},
		{"long join", stack(`join(format("%1024s%1024s%1024s%1024s%1024s", "", "", "", "", ""), range(1024))`),
			[]string{"m.hcl:3:16: Error in function call", "more than the 4 MiB allowed"}},
		{"join of big strings", stack(`join("", [for i in range(1024) : format("%1024s%1024s%1024s%1024s%1024s", "", "", "", "", "")])`),
			[]string{"m.hcl:3:16: Error in function call", "more than the 4 MiB allowed"}},
		{"replace growth", stack(`replace(format("%1024s", ""), " ", format("%1024s%1024s%1024s%1024s%1024s", "", "", "", "", ""))`),
			[]string{"m.hcl:3:16: Error in function call", "more than the 4 MiB allowed"}},
		{"regexall of a big string", stack(`regexall("", jsondecode(file("doc.json")))`),
			[]string{"m.hcl:3:16: Error in function call", "more than the 100000 allowed"}},
		{"function results in a loop", stack(`[for i in range(1024) : indent(1024, join("\n", range(1000)))]`),
			[]string{"m.hcl:3:40: Error in function call", "return more than the 64 MiB allowed in all"}},
	}
}

// TestLoadBombs: manifests built to exhaust memory or time are rejected
// with a diagnostic at the offending expression, quickly, allocating
// little.
func TestLoadBombs(t *testing.T) {
	const (
		maxTime  = 5 * time.Second
		maxHeap  = 256 << 20
		maxAlloc = 1 << 30
	)
	cases := bombCases()
	l := fuzzLoader()
	dir := bombTree(t)
	fsys := sources.LocalTree(dir)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "m.hcl"), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			var lines []string
			var accepted bool
			total, peak, took := memUse(func() {
				d, diags := l.Load("r", fsys, ".")
				accepted = d != nil || !diags.HasErrors()
				lines = Format(diags)
			})
			t.Logf("%v, allocated %.1f MiB in all, heap grew at most %.1f MiB: %s",
				took.Round(time.Millisecond), float64(total)/(1<<20), float64(peak)/(1<<20), strings.Join(lines, " | "))
			if accepted {
				t.Fatalf("Load accepted the manifest")
			}
			if !strings.HasPrefix(lines[0], tc.want[0]) {
				t.Errorf("first diagnostic %q does not start with %q", lines[0], tc.want[0])
			}
			for _, w := range tc.want[1:] {
				if !strings.Contains(lines[0], w) {
					t.Errorf("first diagnostic %q does not contain %q", lines[0], w)
				}
			}
			if took > maxTime {
				t.Errorf("Load took %v, more than %v", took, maxTime)
			}
			// The live heap is what must stay small; what was allocated
			// in all (garbage included) is bounded more loosely.
			if peak > maxHeap {
				t.Errorf("the heap grew by %d bytes during Load, more than %d", peak, maxHeap)
			}
			if total > maxAlloc {
				t.Errorf("Load allocated %d bytes in all, more than %d", total, maxAlloc)
			}
		})
	}
}

// TestLoadBombsPeakRSS loads every bomb in a child process and checks the
// peak resident memory the kernel recorded for it (VmHWM), which counts
// everything the process ever held, not only the Go heap.
func TestLoadBombsPeakRSS(t *testing.T) {
	if os.Getenv("DRIFTLESS_BOMBS_CHILD") == "1" {
		l := fuzzLoader()
		dir := bombTree(t)
		fsys := sources.LocalTree(dir)
		for _, tc := range bombCases() {
			if err := os.WriteFile(filepath.Join(dir, "m.hcl"), []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			if d, _ := l.Load("r", fsys, "."); d != nil {
				t.Fatalf("%s: accepted", tc.name)
			}
		}
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Println("PEAK", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
			}
		}
		return
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status here")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadBombsPeakRSS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DRIFTLESS_BOMBS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var kib int64
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "PEAK "); ok {
			kib, _ = strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		}
	}
	if kib == 0 {
		t.Fatalf("no peak reported by the child:\n%s", out)
	}
	t.Logf("peak resident memory of a process loading all %d bombs: %.1f MiB", len(bombCases()), float64(kib)/1024)
	if kib > 512<<10 {
		t.Errorf("peak resident memory %d KiB, more than 512 MiB", kib)
	}
}
