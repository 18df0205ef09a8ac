package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/natsd"
)

// connectNATS returns a new connection to the daemon's NATS: in-process to
// the embedded server (started on the first call) when no nats.url is
// configured, else to the configured servers. Everything in the daemon
// (publisher, KV stores, leases, the events follower, Slack, the trigger
// broadcast) shares the first connection; tests open their own with it.
func (d *daemon) connectNATS(ctx context.Context, name string) (*nats.Conn, jetstream.JetStream, error) {
	log := d.log // natsd adds its component to the lines it logs
	if url := d.cfg.NATS.URL.Value(); url != "" {
		return natsd.Connect(ctx, url, name, log)
	}
	if d.ns == nil {
		n := d.cfg.NATS
		host, port := splitListen(n.Listen)
		ns, err := natsd.Start(ctx, natsd.Options{
			StoreDir:     filepath.Join(d.cfg.StateDir, "nats"),
			InProcess:    n.Listen == "",
			Host:         host,
			Port:         port,
			User:         n.User,
			Password:     n.Password.Value(),
			Token:        n.Token.Value(),
			SyncInterval: n.SyncInterval,
		}, log)
		if err != nil {
			return nil, nil, fmt.Errorf("starting the embedded NATS server: %w", err)
		}
		d.ns = ns
	}
	return d.ns.Connect(ctx, name, log)
}

// splitListen splits nats.listen (validated by config) into a host and a
// port; an empty host means every interface, as for the HTTP listen.
func splitListen(s string) (string, int) {
	if s == "" {
		return "", 0
	}
	h, p, _ := net.SplitHostPort(s)
	n, _ := strconv.Atoi(p)
	if h == "" {
		h = "0.0.0.0"
	}
	return h, n
}
