package githubtest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
)

// handler serves one endpoint; the call's repository exists.
type handler func(c *call)

const prefix = "/api/v3"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h handler) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+prefix+"/repos/{owner}/{repo}"+path, s.serve(h))
	}
	route("GET /issues/{number}/comments", listComments)
	route("POST /issues/{number}/comments", createComment)
	route("PATCH /issues/comments/{id}", editComment)
	route("GET /issues", listIssues)
	route("POST /issues", createIssue)
	route("PATCH /issues/{number}", editIssue)
	route("GET /pulls", listPulls)
	route("POST /pulls", createPull)
	route("GET /pulls/{number}", getPull)
	route("PATCH /pulls/{number}", editPull)
	route("POST /statuses/{sha}", createStatus)
	route("GET /deployments", listDeployments)
	route("POST /deployments", createDeployment)
	route("GET /deployments/{id}/statuses", listDeploymentStatuses)
	route("POST /deployments/{id}/statuses", createDeploymentStatus)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		req := &Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix), Query: r.URL.Query(), Header: r.Header.Clone()}
		c := &call{s: s, w: w, r: r, req: req}
		c.malformed(http.StatusNotFound, "no such endpoint in githubtest")
		s.reqs = append(s.reqs, *req)
	})
	return mux
}

// serve checks what every GitHub request needs, then runs h under the
// server's lock.
func (s *Server) serve(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		req := &Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix), Query: r.URL.Query(), Header: r.Header.Clone()}
		defer func() { s.reqs = append(s.reqs, *req) }()
		c := &call{s: s, w: w, r: r, req: req}
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "4999")
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			c.fail(http.StatusUnauthorized, "Bad credentials")
			return
		}
		if a := r.Header.Get("Accept"); !strings.HasPrefix(a, "application/vnd.github") && a != "application/json" {
			c.malformed(http.StatusUnsupportedMediaType, "Accept %q is not GitHub's media type (application/vnd.github+json)", a)
			return
		}
		if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && v != "2022-11-28" && v != "2026-03-10" {
			c.malformed(http.StatusBadRequest, "X-GitHub-Api-Version %q is not a supported version", v)
			return
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				c.malformed(http.StatusUnsupportedMediaType, "Content-Type %q is not application/json", r.Header.Get("Content-Type"))
				return
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&req.Body); err != nil {
				c.malformed(http.StatusBadRequest, "Problems parsing JSON: %v", err)
				return
			}
		} else if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			c.malformed(http.StatusBadRequest, "no JSON body")
			return
		}
		if s.fault != nil {
			if f := s.fault(*req); f != nil {
				for k, v := range f.Header {
					w.Header()[k] = v
				}
				c.reply(f.Status, map[string]any{"message": f.Message, "documentation_url": f.DocumentationURL})
				return
			}
		}
		c.rs = s.repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
		if c.rs == nil {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
		h(c)
	}
}
