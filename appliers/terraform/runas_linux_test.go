package terraform

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/driftless/driftless/internal/dropexec"
	"github.com/driftless/driftless/internal/testenv"
)

// The secret the "daemon" (this test process) holds in its environment,
// as driftless holds its API, Git and Slack tokens.
const leakSecret = "secret-api-token-0c7e51d9"

// leakPlanStack reads the daemon's environment with file() during plan.
func leakPlanStack(pid int) string {
	return fmt.Sprintf("locals {\n  e = file(\"/proc/%d/environ\")\n}\noutput \"leak\" {\n  value = local.e\n}\n", pid)
}

// leakExecStack reads the environment of Terraform's parent (the daemon)
// from a local-exec provisioner during apply.
const leakExecStack = `resource "terraform_data" "x" {
  provisioner "local-exec" {
    command = "PP=$(awk '/^PPid/ {print $2}' /proc/$PPID/status); cat /proc/$PP/environ"
  }
}
`

// runAsApplier makes an applier whose Terraform runs as uid:gid, in a state
// dir the user can traverse (0711), with its log in the returned buffer.
func runAsApplier(t *testing.T, uid, gid int, home string) (*Applier, string, *bytes.Buffer) {
	t.Helper()
	state, err := os.MkdirTemp("", "driftless-runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	if err := os.Chmod(state, passDir); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := New(Config{
		Binary:      testenv.TerraformBinary(t),
		WorkDir:     filepath.Join(state, "terraform"),
		PluginCache: filepath.Join(state, "plugin-cache"),
		BaseEnv:     os.Environ(),
		RunAs:       &RunAs{UID: uid, GID: gid, Home: home},
	}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, state, &logs
}

func tfUser(t *testing.T) (uid, gid int, home string) {
	t.Helper()
	uid, gid = testenv.UnixUser(t, "driftless-tf-test")
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		t.Fatal(err)
	}
	return uid, gid, u.HomeDir
}

func stackBlock(name string) string {
	return fmt.Sprintf("stack %q {\n  path = \"infra/%s\"\n  vars = { x = \"1\" }\n}\n", name, name)
}

// Under run_as, Terraform code cannot read the daemon's environment, at
// plan time (file()) or at apply time (local-exec), and the secret appears
// in no error, log or output.
func TestRunAsCannotReadDaemonEnv(t *testing.T) {
	uid, gid, home := tfUser(t)
	if err := dropexec.SetNonDumpable(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DRIFTLESS_API_TOKEN", leakSecret)
	a, _, logs := runAsApplier(t, uid, gid, home)
	repo := newRepo(t, map[string]string{
		"infra/leakplan/main.tf": leakPlanStack(os.Getpid()) + "variable \"x\" {}\n",
		"infra/leakexec/main.tf": leakExecStack + "variable \"x\" {}\n",
	})
	ctx := context.Background()

	spec := decodeStack(t, a, repo.Tree(), stackBlock("leakplan"), nil)
	p, err := a.Plan(ctx, request("leakplan", "r1", spec, repo.Tree()))
	if err == nil {
		t.Fatalf("plan reading /proc/%d/environ succeeded: %s", os.Getpid(), p.Summary)
	}
	if !permissionDenied(err.Error()) {
		t.Errorf("plan error does not say permission denied: %v", err)
	}
	mustNotContain(t, "plan error", err.Error(), leakSecret)

	spec = decodeStack(t, a, repo.Tree(), stackBlock("leakexec"), nil)
	req := request("leakexec", "r1", spec, repo.Tree())
	p = mustPlan(t, a, req)
	res, err := a.Apply(ctx, req, p)
	if err == nil {
		t.Fatalf("apply running cat /proc/<daemon>/environ succeeded: %+v", res)
	}
	if !permissionDenied(err.Error()) {
		t.Errorf("apply error does not say permission denied: %v", err)
	}
	mustNotContain(t, "apply error", err.Error(), leakSecret)
	mustNotContain(t, "logs", logs.String(), leakSecret)
}

// Under run_as, a stack's Terraform runs as the user, its work dir is
// private, and another stack cannot read its local state.
func TestRunAsIsolatesStacks(t *testing.T) {
	uid, gid, home := tfUser(t)
	a, state, _ := runAsApplier(t, uid, gid, home)
	ctx := context.Background()
	other := filepath.Join(state, "terraform", "platform", "other")
	otherState := filepath.Join(other, srcDir, "infra", "other", "terraform.tfstate")
	repo := newRepo(t, map[string]string{
		"infra/other/main.tf": "variable \"x\" {}\nresource \"terraform_data\" \"d\" {\n  input = var.x\n}\noutput \"x\" {\n  value = terraform_data.d.output\n}\n",
		"infra/thief/main.tf": fmt.Sprintf("variable \"x\" {}\noutput \"stolen\" {\n  value = file(%q)\n}\n", otherState),
	})
	spec := decodeStack(t, a, repo.Tree(), stackBlock("other"), nil)
	req := request("other", "r1", spec, repo.Tree())
	res := mustApply(t, a, req, mustPlan(t, a, req))
	if got := outputString(t, res.Outputs, "x"); got != "1" {
		t.Fatalf("output x = %q", got)
	}

	// Terraform ran as the user: it owns the state it wrote. Between
	// operations the work dir is root's, 0700; what driftless wrote is 0600.
	assertOwner(t, otherState, uid, gid, 0)
	assertOwner(t, other, 0, 0, privateDir)
	assertOwner(t, filepath.Join(other, varsFile), uid, gid, privateFile)
	assertOwner(t, filepath.Join(other, srcDir, "infra", "other", "main.tf"), uid, gid, privateFile)
	assertOwner(t, filepath.Join(state, "terraform"), 0, 0, passDir)
	assertOwner(t, filepath.Join(state, "terraform", "platform"), 0, 0, passDir)
	assertOwner(t, filepath.Join(state, "plugin-cache"), uid, gid, privateDir)

	spec = decodeStack(t, a, repo.Tree(), stackBlock("thief"), nil)
	p, err := a.Plan(ctx, request("thief", "r1", spec, repo.Tree()))
	if err == nil {
		t.Fatalf("plan reading another stack's state succeeded: %s", p.Summary)
	}
	if !permissionDenied(err.Error()) {
		t.Errorf("plan error does not say permission denied: %v", err)
	}
	// The stack still works afterwards (handed over and parked again).
	if p := mustPlan(t, a, req); p.Changed {
		t.Errorf("other: plan after apply changed: %s", p.Summary)
	}
}

// permissionDenied tells whether Terraform's message (wrapped at any
// space) says permission denied.
func permissionDenied(msg string) bool {
	return strings.Contains(strings.ToLower(strings.Join(strings.Fields(msg), " ")), "permission denied")
}

func assertOwner(t *testing.T, p string, uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
	}
	if mode != 0 && fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), mode)
	}
}

// leakDaemonEnv makes the test binary the non-root daemon of
// TestNonDumpableStopsSameUIDTerraform.
const leakDaemonEnv = "DRIFTLESS_TEST_LEAK_DAEMON"

// Without run_as, Terraform runs as the daemon's own user. For a non-root
// daemon, making itself non-dumpable is what stops a same-uid Terraform
// from reading its environment: the test runs a real non-root daemon (this
// test binary, as a fresh user) that plans the leaking stack. A root
// daemon gets no such protection (its root children hold CAP_SYS_PTRACE):
// that case is shown, not asserted, below.
func TestNonDumpableStopsSameUIDTerraform(t *testing.T) {
	uid, gid := testenv.UnixUser(t, "driftless-tf-test2")
	exe := testenv.SharedExecutable(t)
	daemon := func(mode string) []byte {
		cmd := exec.Command(exe)
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), leakDaemonEnv+"="+mode, "DRIFTLESS_API_TOKEN="+leakSecret, "HOME=/")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("non-root daemon (%s): %v\n%s", mode, err, out)
		}
		return out
	}
	// Control: a dumpable daemon's same-uid Terraform reads it.
	if out := daemon("dumpable"); !bytes.Contains(out, []byte("plan succeeded")) {
		t.Fatalf("control: a dumpable non-root daemon's Terraform should read its environment; got:\n%s", out)
	}
	out := daemon("non-dumpable")
	if bytes.Contains(out, []byte(leakSecret)) {
		t.Fatalf("the secret leaked:\n%s", out)
	}
	if !permissionDenied(string(out)) {
		t.Fatalf("want permission denied from the non-root daemon's plan, got:\n%s", out)
	}
	t.Logf("non-root, non-dumpable daemon: %s", bytes.TrimSpace(out))
}

// leakDaemon is the non-root daemon: non-dumpable (unless the variable
// says "dumpable", the control), it plans the leaking
// stack without run_as and prints the outcome (never the plan's outputs).
func leakDaemon() int {
	if os.Getenv(leakDaemonEnv) != "dumpable" {
		if err := dropexec.SetNonDumpable(); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	state, err := os.MkdirTemp("", "driftless-leak-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(state)
	bin, err := exec.LookPath("terraform")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	a, err := New(Config{Binary: bin, WorkDir: filepath.Join(state, "terraform"), BaseEnv: os.Environ()}, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	src := filepath.Join(state, "repo")
	if err := os.MkdirAll(filepath.Join(src, "infra", "leakplan"), 0o700); err != nil {
		fmt.Println(err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(src, "infra", "leakplan", "main.tf"), []byte(leakPlanStack(os.Getpid())), 0o600); err != nil {
		fmt.Println(err)
		return 1
	}
	tree := os.DirFS(src)
	spec := &Spec{Path: "infra/leakplan", Workspace: "default"}
	p, err := a.Plan(context.Background(), request("leakplan", "r1", spec, tree))
	if err == nil {
		fmt.Printf("uid %d: plan succeeded (%s)\n", os.Getuid(), p.Summary)
		return 0
	}
	fmt.Printf("uid %d: plan failed: %v\n", os.Getuid(), err)
	return 0
}

// A root daemon without run_as: Terraform runs as root and reads the
// daemon's environment although it is non-dumpable (CAP_SYS_PTRACE). The
// plan's output is not printed; the test only logs whether it could read.
func TestRootWithoutRunAsIsNotProtected(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	if err := dropexec.SetNonDumpable(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DRIFTLESS_API_TOKEN", leakSecret)
	a := newTestApplier(t, nil)
	repo := newRepo(t, map[string]string{"infra/leakplan/main.tf": leakPlanStack(os.Getpid())})
	spec := decodeStack(t, a, repo.Tree(), "stack \"leakplan\" {\n  path = \"infra/leakplan\"\n}\n", nil)
	_, err := a.Plan(context.Background(), request("leakplan", "r1", spec, repo.Tree()))
	t.Logf("root daemon, non-dumpable, no run_as: Terraform read the daemon's environment: %v (this is why a root daemon needs run_as)", err == nil)
}
