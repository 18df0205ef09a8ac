package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// DriftPRFunc proposes the open drift of repo/app back as code (a pull
// request, or an issue for a stack) and returns what it did, as JSON. An
// error wrapping state.ErrNotFound gives 404 (no such app), state.ErrConflict
// 409 (no open drift, drift_pr not possible).
type DriftPRFunc func(ctx context.Context, repo, app, caller string) (any, error)

// SetDriftPR serves POST /api/v1/apps/{repo}/{app}/drift-pr (`driftless
// drift REPO/APP --pr`) with fn; the API token is required as for every
// action. The optional JSON body is {"caller": "..."}.
func (s *Server) SetDriftPR(fn DriftPRFunc) {
	s.mux.Handle("POST /api/v1/apps/{repo}/{app}/drift-pr", s.authorized(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, app, ok := appPath(w, r)
		if !ok {
			return
		}
		var body struct {
			Caller string `json:"caller"`
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxActionBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large or unreadable")
			return
		}
		if strings.TrimSpace(string(raw)) != "" {
			if err := json.Unmarshal(raw, &body); err != nil {
				writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
				return
			}
		}
		caller := strings.TrimSpace(body.Caller)
		if caller == "" {
			caller = "api"
		}
		if len(caller) > 200 {
			writeError(w, http.StatusBadRequest, "caller is longer than 200 characters")
			return
		}
		s.log.Info("api action", "repo", repo, "app", app, "action", "drift-pr", "caller", caller)
		res, err := fn(r.Context(), repo, app, caller)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})))
}
