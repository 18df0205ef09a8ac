package natsd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/natsd"
)

func startWith(t *testing.T, o natsd.Options) *natsd.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := natsd.Start(ctx, o, nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// putGet writes and reads back a KV value over js.
func putGet(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("Get = %v, %v", e, err)
	}
}

// listeningPorts lists the TCP ports this process listens on, from
// /proc/self/net/tcp{,6} (state 0A), by socket inode owned by this process.
func listeningPorts(t *testing.T) map[int]bool {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" || !inodes[fs[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(fs[1], ":")
			p, _ := strconv.ParseInt(hexPort, 16, 32)
			ports[int(p)] = true
		}
	}
	return ports
}

func TestInProcessOpensNoPort(t *testing.T) {
	before := listeningPorts(t)
	s := startWith(t, natsd.Options{StoreDir: t.TempDir(), InProcess: true})
	if s.ClientURL() != "" || s.Port() != 0 {
		t.Errorf("ClientURL = %q, Port = %d; want no listener", s.ClientURL(), s.Port())
	}
	for p := range listeningPorts(t) {
		if !before[p] {
			t.Errorf("the in-process server listens on TCP port %d", p)
		}
	}
	nc, js, err := s.Connect(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	putGet(t, js)
}

func TestListenerRequiresCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    natsd.Options
		good []nats.Option
		bad  []nats.Option
	}{
		{"user", natsd.Options{User: "tools", Password: "s3cret-pw"},
			[]nats.Option{nats.UserInfo("tools", "s3cret-pw")}, []nats.Option{nats.UserInfo("tools", "wrong")}},
		{"token", natsd.Options{Token: "s3cret-tok"},
			[]nats.Option{nats.Token("s3cret-tok")}, []nats.Option{nats.Token("wrong")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.StoreDir = t.TempDir()
			s := startWith(t, o)
			if s.Port() == 0 || !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
				t.Fatalf("ClientURL = %q: want a loopback listener", s.ClientURL())
			}
			for name, opts := range map[string][]nats.Option{"no credentials": nil, "wrong credentials": tc.bad} {
				nc, err := nats.Connect(s.ClientURL(), opts...)
				if err == nil {
					nc.Close()
					t.Errorf("%s: connected", name)
				} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
					t.Errorf("%s: error %v, want an authorization error", name, err)
				}
			}
			nc, err := nats.Connect(s.ClientURL(), tc.good...)
			if err != nil {
				t.Fatalf("with credentials: %v", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			putGet(t, js)
			// The in-process connection supplies the credentials itself.
			inc, ijs, err := s.Connect(context.Background(), "daemon", nil)
			if err != nil {
				t.Fatalf("in-process Connect: %v", err)
			}
			defer inc.Close()
			putGet(t, ijs)
		})
	}
}

func TestStartRejectsHalfCredentials(t *testing.T) {
	for _, o := range []natsd.Options{
		{User: "u"},
		{Password: "p"},
		{User: "u", Password: "p", Token: "t"},
	} {
		o.StoreDir = t.TempDir()
		if s, err := natsd.Start(context.Background(), o, nil); err == nil {
			s.Shutdown()
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
}

// crashChildEnv makes the test binary a child that writes KV values to the
// store dir it names, printing "acked N" after each acknowledged Put, until
// it is killed.
const crashChildEnv = "DRIFTLESS_NATSD_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir string) {
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(3)
	}
	ctx := context.Background()
	s, err := natsd.Start(ctx, natsd.Options{StoreDir: dir, InProcess: true}, nil)
	if err != nil {
		fail(err)
	}
	_, js, err := s.Connect(ctx, "child", nil)
	if err != nil {
		fail(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "CRASH", Storage: jetstream.FileStorage})
	if err != nil {
		fail(err)
	}
	for i := 1; ; i++ {
		if _, err := kv.Put(ctx, "k", []byte(strconv.Itoa(i))); err != nil {
			fail(err)
		}
		fmt.Printf("acked %d\n", i)
	}
}

// TestAckedWriteSurvivesKill runs the server in a child process, SIGKILLs
// it right after an acknowledged Put (no clean shutdown, no chance to
// flush), reopens the store and finds that value or a later one. A SIGKILL
// leaves the kernel's page cache intact, so this proves no acknowledged
// write is held back in the process; that it also reaches the disk before
// the ack (power loss) is the SyncAlways setting TestSyncOption checks.
func TestAckedWriteSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	cmd := newChild(t, dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	last := 0
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "acked ")
		if !ok {
			t.Fatalf("child: %s", sc.Text())
		}
		last, _ = strconv.Atoi(n)
		if last >= 200 {
			break
		}
	}
	_ = cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
	if last < 200 {
		t.Fatalf("child stopped after %d puts", last)
	}

	s := startWith(t, natsd.Options{StoreDir: dir, InProcess: true})
	nc, js, err := s.Connect(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "CRASH")
	if err != nil {
		t.Fatalf("bucket after kill: %v", err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil {
		t.Fatalf("key after kill: %v", err)
	}
	if got, _ := strconv.Atoi(string(e.Value())); got < last {
		t.Fatalf("value after kill = %d, but %d was acknowledged", got, last)
	}
}
