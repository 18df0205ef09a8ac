package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
	"github.com/driftless/driftless/state"
)

// replica is one real `driftless run` process (this test binary run as
// driftless), in its own process group so that kill9 takes its Terraform
// children with it, as a crashed machine or container would.
type replica struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	logs *testenv.LogBuffer
	done chan struct{}
}

func startReplica(t testing.TB, name, cfgPath string) *replica {
	t.Helper()
	r := &replica{t: t, name: name, logs: &testenv.LogBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(os.Args[0], "run", "-c", cfgPath)
	r.cmd.Env = append(os.Environ(), asDriftless+"=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting replica %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
		// Every log line is JSON; the CLI's own last word on a failed
		// start ("driftless: …") is not a log line.
		var logs []string
		for _, l := range strings.Split(r.logs.String(), "\n") {
			if !strings.HasPrefix(l, "driftless: ") {
				logs = append(logs, l)
			}
		}
		if bad := testenv.CheckJSONLines(strings.Join(logs, "\n")); len(bad) > 0 {
			t.Errorf("replica %s: %d log lines are not JSON objects with unique keys, e.g.:\n%s", name, len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"))
		}
		if t.Failed() {
			t.Logf("replica %s log (tail):\n%s", name, tail(r.logs.String(), 80))
		}
	})
	return r
}

// kill9 kills the replica and every process of its group at once.
func (r *replica) kill9() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
}

// eventWatch records every event of the stream, from the start.
type eventWatch struct {
	mu  sync.Mutex
	evs []notify.Event
}

func watchEvents(t testing.TB, url string) *eventWatch {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("replicas-test"), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	w := &eventWatch{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			cons, err := js.OrderedConsumer(ctx, notify.Stream, jetstream.OrderedConsumerConfig{})
			if err != nil {
				time.Sleep(200 * time.Millisecond) // the daemons create the stream
				continue
			}
			it, err := cons.Messages()
			if err != nil {
				continue
			}
			go func() { <-ctx.Done(); it.Stop() }()
			for {
				msg, err := it.Next()
				if err != nil {
					return
				}
				var ev notify.Event
				if json.Unmarshal(msg.Data(), &ev) == nil {
					w.mu.Lock()
					w.evs = append(w.evs, ev)
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

// all returns the events of type typ ("deploy.started") for app.
func (w *eventWatch) all(typ, app string) []notify.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notify.Event
	for _, ev := range w.evs {
		if ev.Category()+"."+ev.Action() == typ && ev.Data.App == app {
			out = append(out, ev)
		}
	}
	return out
}

// wait returns the first event of type typ for app that ok accepts.
func (w *eventWatch) wait(t testing.TB, typ, app string, within time.Duration, ok func(notify.Event) bool) notify.Event {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, ev := range w.all(typ, app) {
			if ok == nil || ok(ev) {
				return ev
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.mu.Lock()
	var seen []string
	for _, ev := range w.evs {
		seen = append(seen, ev.Category()+"."+ev.Action()+" "+ev.Data.App+" "+ev.Source)
	}
	w.mu.Unlock()
	t.Fatalf("no %s for %s within %s; events: %v", typ, app, within, seen)
	return notify.Event{}
}

// stateBackend is an S3 bucket and DynamoDB lock table on the test
// binary's moto, unique to one test.
type stateBackend struct{ endpoint, bucket, table string }

func newStateBackend(t testing.TB) stateBackend {
	t.Helper()
	moto := testenv.Moto(t)
	suffix := fmt.Sprint(time.Now().UnixNano())
	b := stateBackend{endpoint: moto.Endpoint, bucket: "state-" + suffix, table: "locks-" + suffix}
	moto.CreateStateBackend(t, b.bucket, b.table)
	return b
}

// stack is slowStackTF on this backend.
func (b stateBackend) stack(key, version string, sleep int) string {
	return slowStackTF(b.endpoint, b.bucket, b.table, key, version, sleep)
}

// slowStackTF is a stack whose apply runs a local-exec of sleep seconds,
// its state in S3 with a DynamoDB lock on moto (no provider needed).
func slowStackTF(endpoint, bucket, table, key, version string, sleep int) string {
	return fmt.Sprintf(`terraform {
  backend "s3" {
    bucket                      = %q
    key                         = %q
    region                      = "us-east-1"
    dynamodb_table              = %q
    endpoints                   = { s3 = %q, dynamodb = %q, sts = %q, iam = %q }
    access_key                  = "test"
    secret_key                  = "test"
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    skip_s3_checksum            = true
  }
}

resource "terraform_data" "slow" {
  triggers_replace = %q
  provisioner "local-exec" {
    command = "sleep %d"
  }
}
`, bucket, key, table, endpoint, endpoint, endpoint, endpoint, version, sleep)
}

// replicaConfig writes the config of replica name on the NATS urls.
func replicaConfig(t testing.TB, name, natsURL, repoURL, extra string) string {
	t.Helper()
	dir := t.TempDir()
	text := fmt.Sprintf(`state_dir = %q
listen    = "127.0.0.1:0"
instance  = %q
lease_ttl = "4s"

nats {
  url      = %q
  replicas = 3
}

terraform {
  binary = %q
}

repo "platform" {
  url      = %q
  path     = "deploy"
  interval = "1s"
%s}
`, filepath.Join(dir, "state"), name, natsURL, testenv.TerraformBinary(t), repoURL, extra)
	p := filepath.Join(dir, "driftless.hcl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// historyOf reads an app's deploy history from the cluster, newest first.
func historyOf(t testing.TB, url, repo, app string) []state.DeployRecord {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := state.OpenKVStore(ctx, js, 3)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, repo, app)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// instanceOf is the replica that published ev.
func instanceOf(ev notify.Event) string { return strings.TrimPrefix(ev.Source, "driftless/") }
