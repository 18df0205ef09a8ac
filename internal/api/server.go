package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/state"
)

// Actions are the mutating app endpoints.
var Actions = []string{"reconcile", "rollback", "unpin", "approve", "suspend", "resume"}

// Controller is what the API serves. The reconciler implements it.
type Controller interface {
	Apps(ctx context.Context) ([]state.AppState, error)
	// App returns one app; an error wrapping state.ErrNotFound gives 404.
	App(ctx context.Context, repo, app string) (state.AppState, error)
	History(ctx context.Context, repo, app string) ([]state.DeployRecord, error)
	// Act carries out one action (see Actions) and returns the app's state.
	Act(ctx context.Context, req ActionRequest) (state.AppState, error)
	// Ready reports readiness, and why not when it is not ready.
	Ready() (bool, string)
}

// ActionRequest is one POST /api/v1/apps/{repo}/{app}/{action}.
type ActionRequest struct {
	Repo   string `json:"repo"`
	App    string `json:"app"`
	Action string `json:"action"`
	// To is the revision to roll back to (rollback only).
	To string `json:"to,omitempty"`
	// Previous rolls back to the revision applied before the current one
	// (rollback only).
	Previous bool `json:"previous,omitempty"`
	// Revert asks the controller for a revert-style rollback; its meaning is
	// the controller's.
	Revert bool `json:"revert,omitempty"`
	// Caller is who asked: "api", or the body's "caller" field.
	Caller string `json:"caller"`
	// PlanID is the id of the plan the approver saw (approve only); the
	// controller refuses the approval, with an error wrapping
	// state.ErrConflict, when another plan awaits approval. Empty: the plan
	// awaiting approval, whichever it is.
	PlanID string `json:"plan_id,omitempty"`
}

// WebhookTarget is what the webhook endpoints (GitHub, GitLab, Gitea) need.
// One that also implements PullRequestTarget receives GitHub pull requests.
type WebhookTarget interface {
	// WebhookSecrets are the configured webhook secrets by repo (repos
	// without one are absent). A push is authenticated against all of them
	// before anything about its repository is looked up.
	WebhookSecrets() map[string][]byte
	// RepoForPush finds the watched repo whose URL is one of cloneURLs and
	// whose tracked branch is ref (refs/heads/BRANCH).
	RepoForPush(cloneURLs []string, ref string) (repo string, ok bool)
	// Trigger polls repo now; it must not block.
	Trigger(repo string)
}

// Body size limits.
const (
	MaxActionBody  = 64 << 10 // 64 KiB
	MaxWebhookBody = 1 << 20  // 1 MiB
)

// Server is the HTTP API, webhook receiver, metrics and status page.
type Server struct {
	ctl   Controller
	hooks WebhookTarget
	token []byte
	reg   *prometheus.Registry
	log   *slog.Logger
	mux   *http.ServeMux
	hosts *hostCheck // nil: every Host is answered (see RestrictHosts)
	// followers holds a token per open GET /api/v1/events?follow=true
	// stream (capacity MaxFollowers); followLife and followBeat are
	// MaxFollowDuration and followHeartbeat, shortened by tests.
	followers              chan struct{}
	followLife, followBeat time.Duration
}

// New builds a Server. hooks may be nil (webhooks then answer 404); reg nil
// serves the default Prometheus registry; log nil discards logs. An empty
// token refuses every mutating call with 403.
func New(c Controller, hooks WebhookTarget, token config.Secret, reg *prometheus.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ctl: c, hooks: hooks, token: []byte(token.Value()), reg: reg, log: log, mux: http.NewServeMux(),
		followers: make(chan struct{}, MaxFollowers), followLife: MaxFollowDuration, followBeat: followHeartbeat}
	s.routes()
	return s
}

func (s *Server) routes() {
	var metrics http.Handler
	if s.reg != nil {
		metrics = promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	} else {
		metrics = promhttp.Handler()
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", metrics)
	s.mux.HandleFunc("GET /{$}", s.statusPage)
	s.mux.HandleFunc("GET /apps/{repo}/{app}", s.appStatusPage)
	s.mux.HandleFunc("GET /api/v1/apps", s.listApps)
	s.mux.HandleFunc("GET /api/v1/apps/{repo}/{app}", s.getApp)
	s.mux.HandleFunc("GET /api/v1/apps/{repo}/{app}/history", s.history)
	s.mux.Handle("POST /api/v1/apps/{repo}/{app}/{action}", s.authorized(http.HandlerFunc(s.act)))
	s.mux.HandleFunc("POST /hooks/github", s.githubHook)
	s.mux.HandleFunc("POST /hooks/gitlab", s.gitlabHook)
	s.mux.HandleFunc("POST /hooks/gitea", s.giteaHook)
}

// Handler returns the server's handler: routes, JSON 404/405, request logs.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		switch _, pattern := s.mux.Handler(r); {
		case !s.checkHost(rw, r): // answered: a request for another host
		case pattern == "":
			s.noRoute(rw, r)
		default:
			s.mux.ServeHTTP(rw, r)
		}
		// Never log headers: Authorization holds the API token.
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rw.status), slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr))
	})
}

// noRoute answers a request no pattern matched, with the status the mux
// would have used (404, or 405 with Allow), as JSON.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	status := rec.status
	if status == 0 || status == http.StatusOK {
		status = http.StatusNotFound
	}
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if status == http.StatusMethodNotAllowed {
		writeError(w, status, fmt.Sprintf("method %s not allowed for %s", r.Method, r.URL.Path))
		return
	}
	if status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect {
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		return
	}
	writeError(w, status, "no such endpoint: "+r.Method+" "+r.URL.Path)
}

// Serve listens on addr and serves until ctx is done, then shuts down
// gracefully (in-flight requests get up to 10 s).
func (s *Server) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is Serve on an existing listener, which it closes.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("http server listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("http server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// authorized guards mutating endpoints with the bearer token.
func (s *Server) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.token) == 0 {
			writeError(w, http.StatusForbidden, "mutating API calls are disabled: set api_token in the controller config")
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="driftless"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if ok, why := s.ctl.Ready(); !ok {
		if why == "" {
			why = "not ready"
		}
		writeText(w, http.StatusServiceUnavailable, why)
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// statusOf maps a Controller error to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, state.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, state.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, state.ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status >= 500 {
		s.log.Warn("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// statusWriter records the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerRecorder captures what the mux's own 404/405 handler would send.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
