package natsd

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	red := RedactURL(url)
	secrets := urlSecrets(url)
	log = log.With("component", "nats", "url", red)
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(attempts) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "error", redactText(err.Error(), secrets))
			} else {
				log.Info("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", RedactURL(nc.ConnectedUrl()))
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Debug("NATS connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"error", redactText(err.Error(), secrets)}
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
				return nil, nil, fmt.Errorf("natsd: jetstream on %s: %s", red, redactText(err.Error(), secrets))
			}
			log.Debug("NATS connected", "server", RedactURL(nc.ConnectedUrl()))
			return nc, js, nil
		}
		cerr := &connectError{url: red, msg: redactText(err.Error(), secrets), cause: err}
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

// connectError carries a redacted message. Unwrap gives the nats error for
// errors.Is (e.g. nats.ErrNoServers); Error never shows credentials.
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

// RedactURL replaces the user info of every URL in s (a single URL or a
// comma-separated list) with "redacted", so user:pass@ and token@ never
// reach a log line or an error.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	u, err := url.Parse(s)
	if err == nil && u.Host != "" {
		if u.User == nil {
			return s
		}
		u.User = url.User("redacted")
		return u.String()
	}
	// Unparseable or scheme-less: cut anything before the last '@'.
	if i := strings.LastIndex(s, "@"); i >= 0 {
		pre := ""
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			pre = s[:j+3]
		}
		return pre + "redacted@" + s[i+1:]
	}
	return s
}

// urlSecrets lists the user names, passwords and tokens found in s.
func urlSecrets(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err == nil && u.User != nil {
			if n := u.User.Username(); n != "" {
				out = append(out, n)
			}
			if pw, ok := u.User.Password(); ok && pw != "" {
				out = append(out, pw)
			}
			continue
		}
		if i := strings.LastIndex(p, "@"); i >= 0 {
			ui := p[:i]
			if j := strings.Index(ui, "://"); j >= 0 {
				ui = ui[j+3:]
			}
			for _, x := range strings.SplitN(ui, ":", 2) {
				if x != "" {
					out = append(out, x)
				}
			}
		}
	}
	return out
}

// redactText removes every secret from s.
func redactText(s string, secrets []string) string {
	for _, x := range secrets {
		if len(x) >= 3 {
			s = strings.ReplaceAll(s, x, "redacted")
		}
	}
	return s
}
