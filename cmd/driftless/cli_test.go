package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/reconciler"
	"github.com/driftless/driftless/state"
)

// CLI tests: the real command line, run in-process through run().

// runCLI runs driftless with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCLIVersionAndHelp(t *testing.T) {
	if code, out, _ := runCLI(t, "version"); code != exitOK || out != "driftless "+version+"\n" {
		t.Errorf("version = %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "help"); code != exitOK || !strings.Contains(out, "driftless validate [DIR]") {
		t.Errorf("help = %d %q", code, out)
	}
	if code, _, errOut := runCLI(t, "validate", "-h"); code != exitOK || !strings.Contains(errOut, "-o string") {
		t.Errorf("validate -h = %d %q", code, errOut)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{nil, "no command given"},
		{[]string{"deploy"}, `unknown command "deploy"`},
		{[]string{"apps", "extra"}, "apps takes no arguments"},
		{[]string{"apps", "-o", "yaml"}, `-o must be table or json, not "yaml"`},
		{[]string{"apps", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"history"}, "history takes one REPO/APP argument"},
		{[]string{"history", "platform"}, `"platform" is not REPO/APP`},
		{[]string{"history", "a/b/c"}, `"a/b/c" is not REPO/APP`},
		{[]string{"rollback", "platform/web"}, "rollback needs exactly one of --to REV and --previous"},
		{[]string{"rollback", "platform/web", "--to", "abc", "--previous"}, "rollback needs exactly one of --to REV and --previous"},
		{[]string{"events", "x"}, "events takes no arguments"},
		{[]string{"validate", "a", "b"}, "validate takes at most one directory"},
		{[]string{"plan", "a/b", "c/d"}, "plan takes at most one REPO/APP"},
		{[]string{"run", "extra"}, "run takes no arguments"},
		{[]string{"run", "-log-level", "loud"}, "-log-level"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, exitUsage, out, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not say %q", errOut, tt.want)
			}
			if !strings.Contains(errOut, "Run 'driftless help' for usage.") {
				t.Errorf("stderr %q has no hint", errOut)
			}
		})
	}
}

// manifestRepo is a git work tree with the stacks of the e2e tests plus
// extra files.
func manifestRepo(t *testing.T, extra map[string]string) string {
	t.Helper()
	g := testenv.NewGitRepo(t)
	g.Write("deploy/stacks.hcl", stacksHCL)
	g.Write("infra/network/main.tf", networkTF)
	g.Write("infra/app/main.tf", appTFv1)
	for name, content := range extra {
		g.Write(name, content)
	}
	return g.Dir
}

func TestCLIValidate(t *testing.T) {
	good := manifestRepo(t, nil)
	bad := manifestRepo(t, map[string]string{
		"deploy/x.hcl": "# a syntax error on line 3\nstack \"broken\" {\n  path = = \"infra/app\"\n}\n",
		"deploy/y.hcl": "widget \"w\" {\n}\n\nstack \"escape\" {\n  path = \"../outside\"\n}\n",
	})
	cycle := manifestRepo(t, map[string]string{
		"deploy/stacks.hcl": "stack \"a\" {\n  path       = \"infra/app\"\n  depends_on = [stack.b]\n}\n\nstack \"b\" {\n  path       = \"infra/network\"\n  depends_on = [stack.a]\n}\n",
	})
	missing := manifestRepo(t, map[string]string{
		"deploy/more.hcl": "stack \"more\" {\n  path      = \"infra/network\"\n  var_files = [\"infra/nope.tfvars\"]\n}\n",
	})
	badDiags := []string{
		"deploy/x.hcl:3:10: Invalid expression",
		"deploy/y.hcl:1:1: Unsupported block type",
		`deploy/y.hcl:5:10: Invalid path: path "../outside" escapes the repository`,
	}

	t.Run("good", func(t *testing.T) {
		code, out, errOut := runCLI(t, "validate", filepath.Join(good, "deploy"))
		if code != exitOK || out != "2 app(s) valid: network, app\n" || errOut != "" {
			t.Errorf("validate = %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("good-json", func(t *testing.T) {
		code, out, _ := runCLI(t, "validate", "-o", "json", filepath.Join(good, "deploy"))
		var res struct {
			Valid       bool     `json:"valid"`
			Diagnostics []string `json:"diagnostics"`
			Apps        []struct {
				App       string   `json:"app"`
				Kind      string   `json:"kind"`
				File      string   `json:"file"`
				DependsOn []string `json:"depends_on"`
			} `json:"apps"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("validate -o json: %v\n%s", err, out)
		}
		if code != exitOK || !res.Valid || len(res.Diagnostics) != 0 || len(res.Apps) != 2 ||
			res.Apps[0].App != "network" || res.Apps[1].App != "app" || res.Apps[1].Kind != "stack" ||
			res.Apps[1].File != "deploy/stacks.hcl" || len(res.Apps[1].DependsOn) != 1 || res.Apps[1].DependsOn[0] != "network" {
			t.Errorf("validate -o json = %d %s", code, out)
		}
	})
	t.Run("bad-from-repo-root", func(t *testing.T) {
		t.Chdir(bad)
		code, out, errOut := runCLI(t, "validate", "deploy")
		checkDiags(t, code, out, errOut, badDiags)
	})
	t.Run("bad-from-manifest-dir", func(t *testing.T) {
		// Positions name files as the user can open them from here.
		t.Chdir(filepath.Join(bad, "deploy"))
		want := make([]string, len(badDiags))
		for i, d := range badDiags {
			want[i] = strings.TrimPrefix(d, "deploy/")
		}
		code, out, errOut := runCLI(t, "validate")
		checkDiags(t, code, out, errOut, want)
	})
	t.Run("bad-from-elsewhere", func(t *testing.T) {
		t.Chdir(t.TempDir())
		code, out, errOut := runCLI(t, "validate", filepath.Join(bad, "deploy"))
		wd, _ := os.Getwd()
		rel, err := filepath.Rel(wd, bad)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]string, len(badDiags))
		for i, d := range badDiags {
			want[i] = filepath.ToSlash(rel) + "/" + d
		}
		checkDiags(t, code, out, errOut, want)
	})
	t.Run("bad-json", func(t *testing.T) {
		code, out, errOut := runCLI(t, "validate", "-o", "json", filepath.Join(bad, "deploy"))
		var res struct {
			Valid       bool     `json:"valid"`
			Diagnostics []string `json:"diagnostics"`
			Apps        []any    `json:"apps"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("validate -o json: %v\n%s", err, out)
		}
		if code != exitError || res.Valid || res.Apps != nil || errOut != "" {
			t.Errorf("validate -o json = %d, %s, stderr %q", code, out, errOut)
		}
		if len(res.Diagnostics) != len(badDiags) {
			t.Fatalf("diagnostics = %q", res.Diagnostics)
		}
		for i, d := range badDiags {
			if !strings.HasPrefix(res.Diagnostics[i], d) {
				t.Errorf("diagnostics[%d] = %q, want prefix %q", i, res.Diagnostics[i], d)
			}
		}
	})
	t.Run("cycle", func(t *testing.T) {
		code, out, errOut := runCLI(t, "validate", filepath.Join(cycle, "deploy"))
		if code != exitError || out != "" || !regexp.MustCompile(`deploy/stacks\.hcl:\d+:\d+: .*(?i:cycle)`).MatchString(errOut) {
			t.Errorf("validate = %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("missing-file", func(t *testing.T) {
		code, out, errOut := runCLI(t, "validate", filepath.Join(missing, "deploy"))
		if code != exitError || out != "" || !strings.Contains(errOut, "deploy/more.hcl:3:16: ") || !strings.Contains(errOut, "infra/nope.tfvars") {
			t.Errorf("validate = %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("not-a-directory", func(t *testing.T) {
		code, _, errOut := runCLI(t, "validate", filepath.Join(good, "deploy", "stacks.hcl"))
		if code != exitError || !strings.Contains(errOut, "is not a directory") {
			t.Errorf("validate FILE = %d, stderr %q", code, errOut)
		}
	})
}

// checkDiags checks validate's failure output: exit 1, nothing on stdout,
// one stderr line per diagnostic, in order.
func checkDiags(t *testing.T, code int, out, errOut string, want []string) {
	t.Helper()
	if code != exitError || out != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), errOut)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("stderr line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
}

func TestCLIPlanAndRemoteCommands(t *testing.T) {
	testenv.Short(t)
	g, rev := newStacksRepo(t)
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""))
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)

	// Before any deploy: changes, exit 2.
	code, out, errOut := runCLI(t, "plan", "-c", cfgPath, "platform/network")
	if code != exitChanges || !strings.Contains(out, "platform/network (stack): 1 to add, 0 to change, 0 to destroy") ||
		!strings.Contains(out, "create   terraform_data.net") {
		t.Errorf("plan before the first deploy = %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "plan", "-c", cfgPath, "-o", "json")
	var res []reconciler.PlanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("plan -o json: %v\n%s\n%s", err, out, errOut)
	}
	// app cannot be planned before network's outputs exist: a change.
	if code != exitChanges || len(res) != 2 || !res[0].Changed || res[0].App != "network" || res[0].Revision != rev ||
		res[1].App != "app" || !res[1].Changed || res[1].Error != "" || res[1].Summary != "planned after network is applied" {
		t.Errorf("plan -o json before the first deploy = %d %s\nstderr %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "plan", "-c", cfgPath, "platform/nope"); code != exitError || !strings.Contains(errOut, "nope") {
		t.Errorf("plan of an unknown app = %d %q", code, errOut)
	}

	h := startE2E(t, cfgPath, map[string]string{"DRIFTLESS_API_TOKEN": testToken})
	h.waitSynced(rev, "platform/network", "platform/app")

	code, out, errOut = runCLI(t, "apps", "--server", h.base)
	if code != exitOK || !regexp.MustCompile(`(?m)^APP\s+KIND\s+DESIRED\s+APPLIED\s+STATUS\s+UPDATED$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^platform/app\s+stack\s+`+rev[:7]+`\s+`+rev[:7]+`\s+synced\s`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^platform/network\s+stack\s+`).MatchString(out) {
		t.Errorf("apps = %d\n%s\nstderr %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "apps", "-o", "json", "--server", h.base)
	var apps []state.AppState
	if err := json.Unmarshal([]byte(out), &apps); err != nil || code != exitOK || len(apps) != 2 {
		t.Fatalf("apps -o json = %d %v\n%s", code, err, out)
	}
	for _, a := range apps {
		if a.Status != state.StatusSynced || a.AppliedRevision != rev || a.Kind != "stack" {
			t.Errorf("apps -o json: %+v", a)
		}
	}
	// The server from the environment, and flags after the argument.
	t.Setenv("DRIFTLESS_SERVER", h.base)
	code, out, _ = runCLI(t, "history", "platform/app", "-o", "json")
	var hist []state.DeployRecord
	if err := json.Unmarshal([]byte(out), &hist); err != nil || code != exitOK || len(hist) != 1 || hist[0].Revision != rev {
		t.Errorf("history -o json = %d %v\n%s", code, err, out)
	}
	if code, out, _ := runCLI(t, "events"); code != exitOK || !regexp.MustCompile(`deploy\.succeeded\s+platform/app\s+`+rev[:7]).MatchString(out) {
		t.Errorf("events = %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "apps", "--server", "http://127.0.0.1:1"); code != exitError || errOut == "" {
		t.Errorf("apps against no daemon = %d %q", code, errOut)
	}
	// Mutating commands need the token.
	if code, out, _ := runCLI(t, "reconcile", "platform/app"); code != exitOK || !strings.Contains(out, "platform/app: reconcile accepted") {
		t.Errorf("reconcile = %d %q", code, out)
	}
	t.Setenv("DRIFTLESS_API_TOKEN", "wrong")
	if code, _, errOut := runCLI(t, "suspend", "platform/app"); code != exitError || !strings.Contains(errOut, "401") && !strings.Contains(strings.ToLower(errOut), "token") {
		t.Errorf("suspend with a wrong token = %d %q", code, errOut)
	}
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)
	if code, _, errOut := runCLI(t, "approve", "platform/app"); code != exitError || !strings.Contains(errOut, "no plan awaiting approval") {
		t.Errorf("approve without a pending plan = %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "history", "platform/nope"); code != exitError || !strings.Contains(errOut, "not found") {
		t.Errorf("history of an unknown app = %d %q", code, errOut)
	}
	// The manual reconcile planned app again and found nothing to do.
	h.waitFor(60*time.Second, "the manual reconcile", func() bool {
		a := h.apps()["platform/app"]
		return a.LastPlan != nil && a.LastPlan.Revision == rev && !a.LastPlan.Changed
	})

	// After the deploy, with the daemon stopped: no changes, exit 0.
	h.stop()
	code, out, errOut = runCLI(t, "plan", "-c", cfgPath)
	if code != exitOK || !strings.Contains(out, "platform/network (stack): no changes") || !strings.Contains(out, "platform/app (stack): no changes") {
		t.Errorf("plan after the deploy = %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

func TestCLIPlanBadConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "driftless.hcl", "state_dir = \"state\"\n\nrepo \"platform\" {\n  url      = \"/nowhere\"\n  interval = \"soon\"\n}\n")
	t.Chdir(dir)
	for _, cmd := range []string{"plan", "run"} {
		code, out, errOut := runCLI(t, cmd, "-c", "driftless.hcl")
		if code != exitError || out != "" || !regexp.MustCompile(`(?m)^driftless: .*driftless\.hcl:5:\d+: `).MatchString(errOut) {
			t.Errorf("%s with a bad config = %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "plan", "-c", filepath.Join(dir, "missing.hcl")); code != exitError || !strings.Contains(errOut, "missing.hcl") {
		t.Errorf("plan with a missing config = %d %q", code, errOut)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCLIRun runs the daemon as `driftless run` does: it deploys, serves
// its API on the configured address, and stops cleanly on SIGINT.
func TestCLIRun(t *testing.T) {
	testenv.Short(t)
	g, rev := newStacksRepo(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfgText := strings.Replace(daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""), `"127.0.0.1:0"`, strconv.Quote(addr), 1)
	cfgPath := writeFile(t, dir, "driftless.hcl", cfgText)
	t.Setenv("DRIFTLESS_API_TOKEN", testToken)

	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"run", "-c", cfgPath, "-log-level", "debug"}, &stdout, &stderr) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, out, _ := runCLI(t, "apps", "-o", "json", "--server", "http://"+addr)
		var apps []state.AppState
		if code == exitOK && json.Unmarshal([]byte(out), &apps) == nil && len(apps) == 2 &&
			apps[0].AppliedRevision == rev && apps[1].AppliedRevision == rev {
			break
		}
		select {
		case c := <-done:
			t.Fatalf("driftless run exited with %d\n%s", c, tail(stderr.String(), 30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deploy within 90s; apps: %s\nlog:\n%s", out, tail(stderr.String(), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// run() is still running, so its signal.NotifyContext catches this.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-done:
		if c != exitOK {
			t.Errorf("driftless run exited %d after SIGINT, want 0\n%s", c, tail(stderr.String(), 30))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("driftless run did not stop within 30s of SIGINT")
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"driftless started"`, `"listen":"` + addr + `"`, `"msg":"deploy succeeded"`, `"msg":"driftless stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %s", want)
		}
	}
	if stdout.String() != "" {
		t.Errorf("driftless run wrote to stdout: %q", stdout.String())
	}
	// Every log line is one JSON object.
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			break
		}
	}
}

// TestCLIRunListenInUse: an address in use fails the start, before
// anything is reconciled.
func TestCLIRunListenInUse(t *testing.T) {
	testenv.Short(t)
	g, _ := newStacksRepo(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	cfgText := strings.Replace(daemonConfig(t, filepath.Join(dir, "state"), g.URL(), ""), `"127.0.0.1:0"`, strconv.Quote(l.Addr().String()), 1)
	cfgPath := writeFile(t, dir, "driftless.hcl", cfgText)
	code, _, errOut := runCLI(t, "run", "-c", cfgPath)
	if code != exitError || !strings.Contains(errOut, "address already in use") {
		t.Errorf("run on a busy address = %d\n%s", code, tail(errOut, 10))
	}
	if strings.Contains(errOut, "deploy.started") || strings.Contains(errOut, `"msg":"applying"`) {
		t.Errorf("the daemon reconciled although it could not serve its API")
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "terraform", "platform")); err == nil {
		t.Errorf("the daemon touched Terraform although it could not serve its API")
	}
}
