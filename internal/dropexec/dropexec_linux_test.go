package dropexec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/testenv"
)

// roleEnv makes the test binary play a part instead of running tests.
const roleEnv = "DROPEXEC_TEST_ROLE"

const secret = "secret-dropexec-7f3a9c"

// TestMain execs Terraform's stand-in when asked to (as driftless's main
// does) or plays a role, and otherwise runs the tests.
func TestMain(m *testing.M) {
	Main()
	switch os.Getenv(roleEnv) {
	case "daemon", "daemon-dumpable":
		os.Exit(daemon(os.Getenv(roleEnv) == "daemon"))
	case "parent":
		os.Exit(parent())
	}
	os.Exit(m.Run())
}

// daemon stands for the driftless daemon: it makes itself non-dumpable
// when asked to, then runs a child of its own uid that reads its
// environment, and prints what the child got.
func daemon(nonDumpable bool) int {
	if nonDumpable {
		if err := SetNonDumpable(); err != nil {
			fmt.Println("SetNonDumpable:", err)
			return 1
		}
	}
	cmd := exec.Command("/bin/cat", "/proc/"+strconv.Itoa(os.Getpid())+"/environ")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Printf("uid=%d err=%v\n%s", os.Getuid(), err, out.String())
	return 0
}

// runDaemon starts the test binary as a daemon (as uid:gid when uid > 0)
// with the secret in its environment and returns what it printed.
func runDaemon(t *testing.T, exe, role string, uid, gid int) string {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+role, "DRIFTLESS_API_TOKEN="+secret)
	if uid > 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = "/"
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("daemon (%s): %v\n%s", role, err, out)
	}
	return string(out)
}

// A non-root daemon that made itself non-dumpable: a child of the same uid
// cannot read its environment (EACCES). Without it, the same child can:
// that control shows the test would see a leak.
func TestNonDumpableStopsSameUIDRead(t *testing.T) {
	uid, gid := testenv.UnixUser(t, "driftless-dx-test")
	exe := testenv.SharedExecutable(t)

	out := runDaemon(t, exe, "daemon-dumpable", uid, gid)
	if !strings.Contains(out, secret) {
		t.Fatalf("control: a same-uid child of a dumpable daemon should read its environment; got:\n%s", out)
	}

	out = runDaemon(t, exe, "daemon", uid, gid)
	if strings.Contains(out, secret) {
		t.Fatalf("a same-uid child read the non-dumpable daemon's environment:\n%s", out)
	}
	if !strings.Contains(out, "Permission denied") {
		t.Fatalf("want permission denied, got:\n%s", out)
	}
	t.Logf("non-root daemon, non-dumpable, same-uid child: %s", strings.TrimSpace(out))
}

// A root daemon's root children hold CAP_SYS_PTRACE, which overrides
// non-dumpable: this is why a root daemon needs run_as. Logged, not
// asserted (it depends on the capabilities the test runs with).
func TestNonDumpableRootChild(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	exe := testenv.SharedExecutable(t)
	out := runDaemon(t, exe, "daemon", 0, 0)
	t.Logf("root daemon, non-dumpable, root child read its environment: %v", strings.Contains(out, secret))
}

// Main, started with the two variables, drops to the user, removes them
// from the environment and execs the program with the same arguments.
func TestMainExecsAsUser(t *testing.T) {
	uid, gid := testenv.UnixUser(t, "driftless-dx-test2")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(prog string, args ...string) (string, error) {
		cmd := exec.Command(self, args...)
		cmd.Env = os.Environ()
		for k, v := range Env(prog, uid, gid) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("/usr/bin/id")
	if err != nil {
		t.Fatalf("id: %v\n%s", err, out)
	}
	want := fmt.Sprintf("uid=%d(driftless-dx-test2) gid=%d(driftless-dx-test2) groups=%d(driftless-dx-test2)", uid, gid, gid)
	if strings.TrimSpace(out) != want {
		t.Errorf("id printed %q, want %q", strings.TrimSpace(out), want)
	}
	out, err = run("/usr/bin/env")
	if err != nil {
		t.Fatalf("env: %v\n%s", err, out)
	}
	if strings.Contains(out, EnvTerraform) || strings.Contains(out, EnvAs) {
		t.Errorf("the exec'd program still sees the dropexec variables:\n%s", out)
	}
	// Arguments pass through unchanged.
	out, err = run("/bin/echo", "-n", "a b", "c")
	if err != nil || out != "a b c" {
		t.Errorf("echo: %q, %v", out, err)
	}
}

func TestMainRefuses(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ bin, as string }{
		{"/usr/bin/id", "0:0"},
		{"id", "1000:1000"},
		{"/usr/bin/id", "x"},
		{"", "1000:1000"},
	} {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), EnvTerraform+"="+tc.bin, EnvAs+"="+tc.as)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 126 || !strings.Contains(string(out), "running terraform as another user") {
			t.Errorf("%+v: want exit 126 with a message, got %v: %s", tc, err, out)
		}
	}
}

// parent starts `sleep 30` through Main as the user named in the
// environment, with a parent-death signal as terraform-exec sets it, waits
// until the exec happened, prints the child's pid and exits at once.
func parent() int {
	uid, gid, err := ParseAs(os.Getenv("DROPEXEC_TEST_AS"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, "30")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, v := range Env("/bin/sleep", uid, gid) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		return 1
	}
	for i := 0; i < 100; i++ {
		if exe, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe"); strings.HasSuffix(exe, "sleep") {
			fmt.Println(cmd.Process.Pid)
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("the child never exec'd sleep")
	return 1
}

// The parent-death signal terraform-exec sets survives the drop to the
// user (a credential change clears it; Main restores it): when the daemon
// dies, Terraform is killed.
func TestMainKeepsParentDeathSignal(t *testing.T) {
	uid, gid := testenv.UnixUser(t, "driftless-dx-test3")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"=parent", "DROPEXEC_TEST_AS="+strconv.Itoa(uid)+":"+strconv.Itoa(gid))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("parent: %v\n%s", err, out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("parent printed %q", out)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("sleep (pid %d, as uid %d) outlived its parent: the parent-death signal was lost", pid, uid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive tells whether pid runs (a zombie is dead).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
