package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/driftless/driftless/state"
)

// nameRE is the syntax of repo and app names (the README's manifest reference).
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// appPath reads and checks {repo} and {app}; false means a response was sent.
func appPath(w http.ResponseWriter, r *http.Request) (repo, app string, ok bool) {
	repo, app = r.PathValue("repo"), r.PathValue("app")
	for _, n := range []string{repo, app} {
		if !nameRE.MatchString(n) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid name %q: names match [a-z0-9][a-z0-9_-]*", n))
			return "", "", false
		}
	}
	return repo, app, true
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.ctl.Apps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if apps == nil {
		apps = []state.AppState{}
	}
	writeJSON(w, http.StatusOK, apps)
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	repo, app, ok := appPath(w, r)
	if !ok {
		return
	}
	st, err := s.ctl.App(r.Context(), repo, app)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	repo, app, ok := appPath(w, r)
	if !ok {
		return
	}
	h, err := s.ctl.History(r.Context(), repo, app)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if h == nil {
		h = []state.DeployRecord{}
	}
	writeJSON(w, http.StatusOK, h)
}

// actionBody is the optional JSON body of an action.
type actionBody struct {
	To       string `json:"to"`
	Previous bool   `json:"previous"`
	Revert   bool   `json:"revert"`
	Caller   string `json:"caller"`
	PlanID   string `json:"plan_id"`
}

func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if !slices.Contains(Actions, action) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown action %q (want one of %s)", action, strings.Join(Actions, ", ")))
		return
	}
	repo, app, ok := appPath(w, r)
	if !ok {
		return
	}
	var body actionBody
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxActionBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxActionBody))
			return
		}
		writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return
	}
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
			return
		}
		if dec.More() {
			writeError(w, http.StatusBadRequest, "invalid JSON body: more than one value")
			return
		}
	}
	if msg := checkActionBody(action, body); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	req := ActionRequest{
		Repo: repo, App: app, Action: action,
		To: body.To, Previous: body.Previous, Revert: body.Revert,
		Caller: strings.TrimSpace(body.Caller), PlanID: strings.TrimSpace(body.PlanID),
	}
	if req.Caller == "" {
		req.Caller = "api"
	}
	s.log.Info("api action", "repo", repo, "app", app, "action", action, "caller", req.Caller,
		"to", req.To, "previous", req.Previous, "revert", req.Revert, "plan_id", req.PlanID)
	st, err := s.ctl.Act(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// checkActionBody validates the body's fields against the action.
func checkActionBody(action string, b actionBody) string {
	if len(b.Caller) > 200 {
		return "caller is longer than 200 characters"
	}
	if len(b.PlanID) > 200 {
		return "plan_id is longer than 200 characters"
	}
	if b.PlanID != "" && action != "approve" {
		return fmt.Sprintf("plan_id applies to approve only, not %s", action)
	}
	if action != "rollback" {
		if b.To != "" || b.Previous || b.Revert {
			return fmt.Sprintf("to, previous and revert apply to rollback only, not %s", action)
		}
		return ""
	}
	switch {
	case b.To != "" && b.Previous:
		return "rollback takes either to or previous, not both"
	case b.To == "" && !b.Previous:
		return `rollback needs {"to": "REVISION"} or {"previous": true}`
	}
	return ""
}
