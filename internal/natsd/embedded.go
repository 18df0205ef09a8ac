package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// applySync sets how JetStream syncs its files: every write when interval
// is 0, else every interval.
func applySync(opts *server.Options, interval time.Duration) {
	if interval <= 0 {
		opts.SyncAlways = true
		return
	}
	opts.SyncInterval = interval
}

// syncLabel describes a SyncInterval for the start-up log line.
func syncLabel(interval time.Duration) string {
	if interval <= 0 {
		return "always"
	}
	return interval.String()
}

// applyAuth requires o's credentials of every client.
func applyAuth(opts *server.Options, o Options) error {
	switch {
	case o.Token != "" && (o.User != "" || o.Password != ""):
		return errors.New("natsd: set either a token or a user and password, not both")
	case o.User != "" && o.Password == "":
		return errors.New("natsd: a user needs a password")
	case o.User == "" && o.Password != "":
		return errors.New("natsd: a password needs a user")
	}
	opts.Username, opts.Password, opts.Authorization = o.User, o.Password, o.Token
	return nil
}

// Connect opens an in-process connection to the embedded server (no TCP,
// whether or not the server also listens) with the server's credentials,
// and returns it with a JetStream context. Like the package-level Connect it
// reconnects forever and fails publishes at once while disconnected; it only
// ever disconnects when the server shuts down.
func (s *Server) Connect(ctx context.Context, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "nats", "server", "in-process")
	opts := []nats.Option{
		nats.Name(name),
		nats.InProcessServer(s.ns),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(attempts) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "error", err.Error())
			} else {
				log.Debug("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"error", err.Error()}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Warn("NATS async error", attrs...)
		}),
	}
	switch {
	case s.token != "":
		opts = append(opts, nats.Token(s.token))
	case s.user != "":
		opts = append(opts, nats.UserInfo(s.user, s.password))
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("natsd: connect in-process: %w", err)
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("natsd: connect in-process: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("natsd: jetstream in-process: %w", err)
	}
	log.Debug("NATS connected")
	return nc, js, nil
}
