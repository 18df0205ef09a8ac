package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/driftless/driftless/notify"
)

// EventSource streams the stored events: those since the given time (all
// when zero), then, with follow, new ones until ctx ends.
type EventSource func(ctx context.Context, since time.Time, follow bool, fn func(notify.Event) error) error

// SetEvents enables GET /api/v1/events, which streams events as
// newline-delimited JSON (one CloudEvents envelope per line). Query:
// follow=true keeps the response open; since=RFC3339 skips older events.
// Like the other read-only endpoints it needs no token.
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
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		enc := json.NewEncoder(w)
		err := src(r.Context(), since, follow, func(ev notify.Event) error {
			if err := enc.Encode(ev); err != nil {
				return err
			}
			return rc.Flush()
		})
		if err != nil && r.Context().Err() == nil {
			s.log.Warn("streaming events", "error", err)
		}
	})
}
