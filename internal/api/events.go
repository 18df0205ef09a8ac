package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/driftless/driftless/notify"
)

// EventSource streams the stored events: those since the given time (all
// when zero), then, with follow, new ones until ctx ends.
type EventSource func(ctx context.Context, since time.Time, follow bool, fn func(notify.Event) error) error

// Limits of GET /api/v1/events?follow=true: each follower holds a NATS
// consumer and a connection.
const (
	// MaxFollowers is how many follow streams are open at once; more are
	// refused with 429.
	MaxFollowers = 16
	// MaxFollowDuration is how long one follow stream lasts; then the
	// response ends and the client reconnects with since.
	MaxFollowDuration = time.Hour
	// followHeartbeat is how often an idle follow stream gets an empty
	// line, so a client that is gone is noticed.
	followHeartbeat = 30 * time.Second
	// followWriteTimeout bounds each write: a client that stops reading
	// ends its stream instead of holding it.
	followWriteTimeout = 30 * time.Second
)

// SetEvents enables GET /api/v1/events, which streams events as
// newline-delimited JSON (one CloudEvents envelope per line). Query:
// follow=true keeps the response open; since=RFC3339 skips older events.
// Like the other read-only endpoints it needs no token.
//
// At most MaxFollowers follow streams are open at once (429 with a JSON
// error beyond). Each ends after MaxFollowDuration, or when a write to its
// client fails or stalls for 30 s; an idle stream gets an empty line every
// 30 s (clients skip empty lines).
func (s *Server) SetEvents(src EventSource) {
	s.mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
				return
			}
			since = t
		}
		follow := r.URL.Query().Get("follow") == "true" || r.URL.Query().Get("follow") == "1"
		ctx := r.Context()
		if follow {
			select {
			case s.followers <- struct{}{}:
				defer func() { <-s.followers }()
			default:
				w.Header().Set("Retry-After", "30")
				writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many event streams are open (at most %d); try again later", MaxFollowers))
				return
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.followLife)
			defer cancel()
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		out := &eventWriter{w: w, rc: http.NewResponseController(w)}
		out.flush()
		if follow {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			stop := out.heartbeat(ctx, cancel, s.followBeat)
			defer stop()
		}
		err := src(ctx, since, follow, func(ev notify.Event) error {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			return out.write(append(b, '\n'))
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("streaming events", "error", err)
		}
	})
}

// eventWriter serialises the writes of the event stream and its heartbeat.
type eventWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (e *eventWriter) write(b []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.rc.SetWriteDeadline(time.Now().Add(followWriteTimeout)) // unsupported in tests' recorders
	if _, err := e.w.Write(b); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *eventWriter) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.rc.Flush()
}

// heartbeat writes an empty line every interval until ctx ends; a failed
// write cancels the stream. stop waits for it to finish.
func (e *eventWriter) heartbeat(ctx context.Context, cancel context.CancelFunc, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.write([]byte("\n")); err != nil {
					cancel()
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
