package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

// TestE2EEmbeddedNATSAccess: by default the daemon's embedded NATS has no
// TCP listener; with nats.listen it has one that refuses clients without
// the configured credentials.
func TestE2EEmbeddedNATSAccess(t *testing.T) {
	testenv.Short(t)
	g, _ := newStacksRepo(t)
	env := map[string]string{"DRIFTLESS_API_TOKEN": testToken, "NATS_TOKEN": "nats-tok-0123456789"}

	t.Run("default", func(t *testing.T) {
		dir := t.TempDir()
		h := startE2E(t, writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), "")), env)
		defer h.stop()
		if u := h.d.ns.ClientURL(); u != "" {
			t.Errorf("the embedded NATS listens on %s", u)
		}
		if _, err := h.js.Stream(context.Background(), notify.Stream); err != nil {
			t.Errorf("the in-process connection does not see the events stream: %v", err)
		}
		if !strings.Contains(h.cfg.Holder(), "e2e/") {
			t.Errorf("holder %q does not start with the instance", h.cfg.Holder())
		}
	})

	t.Run("listener", func(t *testing.T) {
		dir := t.TempDir()
		extra := "nats {\n  listen = \"127.0.0.1:0\"\n  token = env(\"NATS_TOKEN\")\n  sync_interval = \"1s\"\n}\n"
		h := startE2E(t, writeFile(t, dir, "driftless.hcl", daemonConfig(t, filepath.Join(dir, "state"), g.URL(), extra)), env)
		defer h.stop()
		url := h.d.ns.ClientURL()
		if !strings.HasPrefix(url, "nats://127.0.0.1:") {
			t.Fatalf("ClientURL = %q, want the loopback listener", url)
		}
		if nc, err := nats.Connect(url, nats.Timeout(2*time.Second)); err == nil {
			nc.Close()
			t.Fatal("an unauthenticated client connected to the embedded NATS")
		}
		nc, err := nats.Connect(url, nats.Token(env["NATS_TOKEN"]), nats.Timeout(2*time.Second))
		if err != nil {
			t.Fatalf("connecting with the token: %v", err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Stream(context.Background(), notify.Stream); err != nil {
			t.Errorf("the events stream over the listener: %v", err)
		}
		if strings.Contains(h.logs.String(), env["NATS_TOKEN"]) {
			t.Error("the log shows the NATS token")
		}
	})
}
