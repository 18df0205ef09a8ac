package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long Start waits for the server to accept clients.
const readyTimeout = 5 * time.Second

// Options configure the embedded server.
type Options struct {
	StoreDir string // JetStream storage; required
	Host     string // client listen host; default 127.0.0.1
	Port     int    // client port; 0 picks a random free port

	// InProcess starts the server with no TCP listener at all (Host and
	// Port are ignored): the only way in is (*Server).Connect, from this
	// process. The daemon runs this way unless nats.listen is configured.
	InProcess bool
	// User and Password, or Token, are required of every client, in-process
	// ones included ((*Server).Connect supplies them). Empty: no
	// authentication, acceptable only with InProcess.
	User, Password, Token string
	// SyncInterval is how often JetStream fsyncs its files. 0 (the
	// default) syncs every write before it is acknowledged (SyncAlways),
	// so an acknowledged write survives a power loss; a positive interval
	// trades that for speed: up to that much acknowledged data can be lost.
	SyncInterval time.Duration
}

// Server is a running embedded nats-server with JetStream.
type Server struct {
	ns  *server.Server
	log *slog.Logger

	// Credentials for in-process clients, when the server requires them.
	user, password, token string
}

// Start starts an embedded nats-server with JetStream on o.StoreDir and
// waits until it accepts clients (at most 5 s, or until ctx ends).
func Start(ctx context.Context, o Options, log *slog.Logger) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsd: StoreDir is required")
	}
	if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("natsd: create store dir: %w", err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "driftless-embedded",
		Host:       o.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      log == nil,
		DontListen: o.InProcess,
		// No HTTP monitoring, no cluster, no leaf nodes: a local store only.
	}
	applySync(opts, o.SyncInterval)
	if err := applyAuth(opts, o); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsd: new server: %w", err)
	}
	if log != nil {
		log = log.With("component", "nats-server")
		ns.SetLoggerV2(slogLogger{log}, false, false, false)
	}
	ns.Start()

	wait := readyTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = max(time.Until(dl), 0)
	}
	if !ns.ReadyForConnections(wait) {
		ns.Shutdown()
		ns.WaitForShutdown()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("natsd: start: %w", err)
		}
		return nil, fmt.Errorf("natsd: server on %s not ready within %s", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), wait)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("natsd: JetStream did not start (see the server log)")
	}
	s := &Server{ns: ns, log: log, user: o.User, password: o.Password, token: o.Token}
	if log != nil {
		log.Info("embedded NATS server started", "listen", s.ClientURL(), "in_process", o.InProcess,
			"auth", o.User != "" || o.Token != "", "sync", syncLabel(o.SyncInterval), "store_dir", o.StoreDir)
	}
	return s, nil
}

// ClientURL is the URL TCP clients connect to, e.g. nats://127.0.0.1:4222;
// "" when the server has no TCP listener (InProcess). It never carries
// credentials.
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Port is the client port the server listens on (useful after Port 0).
func (s *Server) Port() int {
	if a, ok := s.ns.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Shutdown stops the server gracefully and waits until it has stopped and
// flushed its store.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	if s.log != nil {
		s.log.Info("embedded NATS server stopped")
	}
}

// slogLogger adapts slog to the nats-server Logger interface. Notices are
// chatty start-up banners and go to Debug.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Noticef(f string, v ...any) { s.l.Debug(fmt.Sprintf(f, v...)) }
func (s slogLogger) Warnf(f string, v ...any)   { s.l.Warn(fmt.Sprintf(f, v...)) }
func (s slogLogger) Fatalf(f string, v ...any)  { s.l.Error(fmt.Sprintf(f, v...)) }
func (s slogLogger) Errorf(f string, v ...any)  { s.l.Error(fmt.Sprintf(f, v...)) }
func (s slogLogger) Debugf(f string, v ...any)  { s.l.Debug(fmt.Sprintf(f, v...)) }
func (s slogLogger) Tracef(f string, v ...any)  { s.l.Debug(fmt.Sprintf(f, v...)) }
