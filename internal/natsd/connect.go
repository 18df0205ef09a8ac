package natsd

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/driftless/driftless/internal/redact"
)

// Backoff bounds for the first connect and for reconnects.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Connect dials url (one URL or a comma-separated cluster list) and returns
// the connection and a JetStream context. The first connect is retried with
// backoff until it succeeds or ctx ends; afterwards the connection
// reconnects forever (MaxReconnects -1), logging each disconnect and
// reconnect. While disconnected, publishes fail at once instead of being
// buffered (ReconnectBufSize -1), so callers can fall back and retry with
// the same message id.
//
// Credentials in url never appear in logs or in the returned error.
func Connect(ctx context.Context, url string, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	red := redact.New(redact.URLCredentials(url)...)
	shown := redact.URL(url)
	log = log.With("component", "nats", "url", shown)
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(attempts) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "error", red.String(err.Error()))
			} else {
				log.Info("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", redact.URL(nc.ConnectedUrl()))
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Debug("NATS connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"error", red.String(err.Error())}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Warn("NATS async error", attrs...)
		}),
	}
	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			js, err := jetstream.New(nc)
			if err != nil {
				nc.Close()
				return nil, nil, fmt.Errorf("natsd: jetstream on %s: %s", shown, red.String(err.Error()))
			}
			log.Debug("NATS connected", "server", redact.URL(nc.ConnectedUrl()))
			return nc, js, nil
		}
		cerr := &connectError{url: shown, msg: red.String(err.Error()), cause: red.Error(err)}
		if attempt == 1 {
			log.Warn("NATS connect failed, retrying", "error", cerr.msg)
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w (gave up: %w)", cerr, ctx.Err())
		case <-time.After(backoff(attempt)):
		}
	}
}

// connectError carries a redacted message. Unwrap gives the nats error,
// redacted, for errors.Is (e.g. nats.ErrNoServers); neither Error nor
// errors.As shows credentials.
type connectError struct {
	url, msg string
	cause    error
}

func (e *connectError) Error() string { return "natsd: connect " + e.url + ": " + e.msg }
func (e *connectError) Unwrap() error { return e.cause }

// backoff is exponential from 100 ms, capped at 5 s, with ±20 % jitter.
func backoff(attempt int) time.Duration {
	d := minBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	j := time.Duration(rand.Int64N(int64(d)/5 + 1))
	if rand.IntN(2) == 0 {
		return d - j
	}
	return min(d+j, maxBackoff)
}
