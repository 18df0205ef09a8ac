package natsd_test

import (
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"

	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/natsd"
)

type syncBuffer = testenv.LogBuffer

func start(t *testing.T, dir string, port int, log *slog.Logger) *natsd.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := natsd.Start(ctx, natsd.Options{StoreDir: dir, Port: port}, log)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func TestRestartKeepsStreamAndKV(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s := start(t, dir, 0, nil)
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want loopback", s.ClientURL())
	}
	nc, js, err := natsd.Connect(ctx, s.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.one", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()

	s2 := start(t, dir, 0, nil)
	defer s2.Shutdown()
	nc2, js2, err := natsd.Connect(ctx, s2.ClientURL(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	st, err := js2.Stream(ctx, "S")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "s.one")
	if err != nil || string(m.Data) != "hello" {
		t.Fatalf("message after restart = %v, %v", m, err)
	}
	kv2, err := js2.KeyValue(ctx, "B")
	if err != nil {
		t.Fatalf("bucket after restart: %v", err)
	}
	e, err := kv2.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v1" {
		t.Fatalf("KV after restart = %v, %v", e, err)
	}
}

func TestStartRequiresStoreDir(t *testing.T) {
	if _, err := natsd.Start(context.Background(), natsd.Options{}, nil); err == nil {
		t.Fatal("Start without StoreDir succeeded")
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@host:4222", "nats://[redacted]@host:4222"},
		{"nats://tok3n@host:4222", "nats://[redacted]@host:4222"},
		{"nats://a:p1@h1:4222, nats://a:p1@h2:4222", "nats://[redacted]@h1:4222,nats://[redacted]@h2:4222"},
		{"alice:s3cret@host:4222", "[redacted]@host:4222"},
		{"tls://u:p%40ss@host", "tls://[redacted]@host"},
	}
	for _, tt := range tests {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("redact.URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConnectErrorHidesCredentials(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	url := "nats://alice:hunter2pw@127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err = natsd.Connect(ctx, url, "test", log)
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, nats.ErrNoServers) {
		t.Errorf("error %v does not wrap the deadline and nats.ErrNoServers", err)
	}
	for _, secret := range []string{"hunter2pw", "alice"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log leaks %q: %s", secret, logs.String())
		}
	}
	if !strings.Contains(err.Error(), "[redacted]@127.0.0.1") {
		t.Errorf("error does not name the redacted URL: %v", err)
	}
}

// TestReconnectLogsHideCredentials connects with credentials to a cluster
// list, restarts the server on the same port and store, and checks the
// connection comes back and the disconnect/reconnect logs hold no secret.
func TestReconnectLogsHideCredentials(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, 0, nil)
	port := s.Port()
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The second URL points nowhere: a cluster list must still connect.
	url := "nats://alice:hunter2pw@127.0.0.1:" + strconv.Itoa(port) + ",nats://alice:hunter2pw@127.0.0.1:1"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, _, err := natsd.Connect(ctx, url, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	s.Shutdown()
	s2 := start(t, dir, port, nil)
	defer s2.Shutdown()
	// The reconnect is logged by nats.go's asynchronous callback, which
	// may run a moment after IsConnected turns true: wait for both.
	for !nc.IsConnected() || !strings.Contains(logs.String(), "NATS reconnected") {
		if ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !nc.IsConnected() {
		t.Fatal("did not reconnect")
	}
	out := logs.String()
	if !strings.Contains(out, "NATS disconnected") || !strings.Contains(out, "NATS reconnected") {
		t.Errorf("missing disconnect/reconnect logs:\n%s", out)
	}
	for _, secret := range []string{"hunter2pw", "alice"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %q:\n%s", secret, out)
		}
	}
}

func TestServerLogsThroughSlog(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := start(t, t.TempDir(), 0, log)
	s.Shutdown()
	if !strings.Contains(logs.String(), `"component":"nats-server"`) {
		t.Errorf("server did not log through slog:\n%s", logs.String())
	}
}
