package testenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS starts an embedded nats-server with JetStream in t.TempDir() (≈30 ms)
// and returns its client URL and a JetStream context on a fresh connection.
// Both are shut down in t.Cleanup.
func NATS(t testing.TB) (url string, js jetstream.JetStream) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		Unavailable(t, fmt.Sprintf("embedded nats-server: %v", err))
		return "", nil
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		ns.Shutdown()
		Unavailable(t, "embedded nats-server not ready within 5s")
		return "", nil
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url = ns.ClientURL()
	return url, connectJS(t, url)
}

func connectJS(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("testenv"), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// NATSCluster starts an in-process JetStream cluster of n nodes on loopback
// (≈1 s for 3) and waits until it has a meta leader. It returns each node's
// client URL and stop, which shuts node i down (idempotent) to test failover.
// Every node is shut down in t.Cleanup.
func NATSCluster(t testing.TB, n int) (urls []string, stop func(i int)) {
	t.Helper()
	return natsCluster(t, n, false)
}

// NATSClusterNoAdvertise is NATSCluster whose nodes do not tell clients
// the other nodes' addresses: a client knows only the URLs it was given,
// so a test can cut one off (behind a proxy) while the cluster stays up.
func NATSClusterNoAdvertise(t testing.TB, n int) (urls []string, stop func(i int)) {
	t.Helper()
	return natsCluster(t, n, true)
}

func natsCluster(t testing.TB, n int, noAdvertise bool) (urls []string, stop func(i int)) {
	t.Helper()
	if n < 1 {
		t.Fatalf("NATSCluster: n = %d", n)
	}
	ports := freePorts(t, 2*n)
	clientPorts, routePorts := ports[:n], ports[n:]
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	dir := t.TempDir()
	servers := make([]*server.Server, n)
	var once = make([]sync.Once, n)
	stop = func(i int) {
		once[i].Do(func() { servers[i].Shutdown(); servers[i].WaitForShutdown() })
	}
	for i := range n {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoSigs:     true,
			NoLog:      true,
			Cluster: server.ClusterOpts{
				Name:        "driftless-test",
				Host:        "127.0.0.1",
				Port:        routePorts[i],
				NoAdvertise: noAdvertise,
			},
			Routes: server.RoutesFromStr(strings.Join(others, ",")),
		}
		ns, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("cluster node %d: %v", i+1, err)
		}
		servers[i] = ns
		ns.Start()
		t.Cleanup(func() { stop(i) })
	}
	for i, ns := range servers {
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatalf("cluster node %d not ready", i+1)
		}
		urls = append(urls, ns.ClientURL())
	}
	waitMetaLeader(t, strings.Join(urls, ","))
	return urls, stop
}

// waitMetaLeader polls AccountInfo, each probe with its own short timeout,
// until JetStream answers (the meta group has a leader).
func waitMetaLeader(t testing.TB, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect cluster: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster has no meta leader after 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePorts reserves n distinct free loopback ports. They are released
// before return, so another process could take one; on loopback in a test
// this is rare enough.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
