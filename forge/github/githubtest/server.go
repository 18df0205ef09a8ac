package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request that reached the server.
type Request struct {
	Method string
	Path   string // without the /api/v3 prefix: /repos/acme/infra/deployments
	Query  url.Values
	Header http.Header
	Body   map[string]any // decoded JSON body; nil when there was none
	Status int            // the status answered
}

// Fault is an answer forced on a request instead of the normal one.
type Fault struct {
	Status int
	Header http.Header
	// Message and DocumentationURL form GitHub's error body.
	Message          string
	DocumentationURL string
}

// Comment is an issue or pull request comment.
type Comment struct {
	ID     int64
	Number int
	Body   string
}

// PullRequest is a pull request.
type PullRequest struct {
	Number      int
	Head, Base  string
	HeadSHA     string // head.sha as served (set it when seeding)
	Title, Body string
	State       string // open, closed
}

// Issue is an issue.
type Issue struct {
	Number      int
	Title, Body string
	State       string
	Labels      []string
}

// CommitStatus is a commit status.
type CommitStatus struct {
	SHA, State, Context, Description, TargetURL string
}

// Deployment is a deployment with its statuses, oldest first.
type Deployment struct {
	ID                    int64
	Ref                   string
	Environment           string
	Description           string
	Payload               map[string]any
	AutoMerge             bool
	RequiredContexts      []string // nil when the request left it out
	TransientEnvironment  bool
	ProductionEnvironment bool
	Statuses              []DeploymentStatus
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID                                         int64
	State, Description, EnvironmentURL, LogURL string
	AutoInactive                               bool
}

type repoState struct {
	next        int // issue and pull request numbers share one sequence
	comments    []*Comment
	pulls       []*PullRequest
	issues      []*Issue
	statuses    []CommitStatus
	deployments []*Deployment
}

// Server plays GitHub. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's root (http://127.0.0.1:PORT); the API is at APIURL.
	URL string

	token string
	srv   *httptest.Server
	mu    sync.Mutex
	repos map[string]*repoState
	reqs  []Request
	bad   []string // malformed requests
	fault func(Request) *Fault
	ids   int64
}

// New starts a server that accepts token and knows repos ("owner/name");
// it stops, and reports any malformed request as an error, when t ends.
func New(t testing.TB, token string, repos ...string) *Server {
	t.Helper()
	s := &Server{token: token, repos: map[string]*repoState{}, ids: 1000}
	for _, r := range repos {
		s.repos[r] = &repoState{}
	}
	s.srv = httptest.NewServer(s.routes())
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.Close()
		for _, b := range s.Malformed() {
			t.Errorf("githubtest: malformed request: %s", b)
		}
	})
	return s
}

// Close stops the server early (a forge that is down); idempotent.
func (s *Server) Close() { s.srv.Close() }

// APIURL is the REST API root to give the client (GitHub Enterprise form).
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// CloneURL is the https-like clone URL of repo on this server's host.
func (s *Server) CloneURL(repo string) string { return s.URL + "/" + repo + ".git" }

// SetFault installs f: a non-nil Fault answers the request instead (after
// the authorization and header checks). nil removes it.
func (s *Server) SetFault(f func(Request) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Status is a plain error answer.
func Status(code int, message string) *Fault {
	return &Fault{Status: code, Message: message, DocumentationURL: "https://docs.github.com/rest"}
}

// RateLimited is GitHub's primary rate limit answer, resetting at reset.
func RateLimited(reset time.Time) *Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "5000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	return &Fault{Status: http.StatusForbidden, Header: h,
		Message:          "API rate limit exceeded for user ID 1.",
		DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}
}

// SecondaryRateLimited is GitHub's secondary rate limit answer.
func SecondaryRateLimited(retryAfter time.Duration) *Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
	return &Fault{Status: http.StatusForbidden, Header: h,
		Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}
}

// Requests returns every request so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Count is how many requests matched method and a path ending in suffix.
func (s *Server) Count(method, suffix string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// Malformed lists the requests that were not what GitHub accepts.
func (s *Server) Malformed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bad)
}

// TakeMalformed returns the malformed requests so far and forgets them,
// for a test that sends some on purpose.
func (s *Server) TakeMalformed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.bad
	s.bad = nil
	return out
}

// AddPullRequest adds an open pull request and returns its number.
func (s *Server) AddPullRequest(repo string, pr PullRequest) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(repo)
	rs.next++
	pr.Number = rs.next
	if pr.State == "" {
		pr.State = "open"
	}
	rs.pulls = append(rs.pulls, &pr)
	return pr.Number
}

// AddIssue adds an issue and returns its number.
func (s *Server) AddIssue(repo string, is Issue) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(repo)
	rs.next++
	is.Number = rs.next
	if is.State == "" {
		is.State = "open"
	}
	rs.issues = append(rs.issues, &is)
	return is.Number
}

// AddComment adds a comment on issue or pull request number.
func (s *Server) AddComment(repo string, number int, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.repo(repo)
	s.ids++
	rs.comments = append(rs.comments, &Comment{ID: s.ids, Number: number, Body: body})
	return s.ids
}

// Comments returns the comments on number, oldest first.
func (s *Server) Comments(repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.repo(repo).comments {
		if c.Number == number {
			out = append(out, *c)
		}
	}
	return out
}

// PullRequests returns the pull requests, oldest first.
func (s *Server) PullRequests(repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PullRequest
	for _, p := range s.repo(repo).pulls {
		out = append(out, *p)
	}
	return out
}

// Issues returns the issues, oldest first.
func (s *Server) Issues(repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.repo(repo).issues {
		c := *is
		c.Labels = slices.Clone(is.Labels)
		out = append(out, c)
	}
	return out
}

// CommitStatuses returns the commit statuses set, oldest first.
func (s *Server) CommitStatuses(repo string) []CommitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.repo(repo).statuses)
}

// Deployments returns the deployments, oldest first, with their statuses.
func (s *Server) Deployments(repo string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.repo(repo).deployments {
		c := *d
		c.Statuses = slices.Clone(d.Statuses)
		out = append(out, c)
	}
	return out
}

// repo returns repo's state, declaring it when a test seeds an unknown one.
func (s *Server) repo(name string) *repoState {
	rs := s.repos[name]
	if rs == nil {
		rs = &repoState{}
		s.repos[name] = rs
	}
	return rs
}

// call is one request being served.
type call struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	req *Request
	rs  *repoState // the repository of the path
}

// reply writes v as JSON with status.
func (c *call) reply(status int, v any) {
	c.req.Status = status
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

// fail writes GitHub's error body.
func (c *call) fail(status int, msg string) {
	c.reply(status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

// malformed rejects a request GitHub would not accept and records why.
func (c *call) malformed(status int, format string, args ...any) {
	why := fmt.Sprintf(format, args...)
	c.s.bad = append(c.s.bad, fmt.Sprintf("%s %s: %s", c.r.Method, c.req.Path, why))
	c.reply(status, map[string]any{"message": "Validation Failed", "errors": []map[string]any{{"message": why, "code": "invalid"}},
		"documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

func (c *call) links(total, page, per int) {
	last := max((total+per-1)/per, 1)
	if page >= last {
		return
	}
	u := *c.r.URL
	u.Scheme, u.Host = "http", c.r.Host
	link := func(p int, rel string) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	c.w.Header().Set("Link", link(page+1, "next")+", "+link(last, "last"))
}

// paginate returns the page of n items the query asks for, setting the
// Link header; ok is false after a malformed per_page or page.
func (c *call) paginate(n int) (lo, hi int, ok bool) {
	per, page := 30, 1
	q := c.req.Query
	if v := q.Get("per_page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			c.malformed(http.StatusUnprocessableEntity, "per_page %q is not a positive number", v)
			return 0, 0, false
		}
		per = min(p, 100)
	}
	if v := q.Get("page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			c.malformed(http.StatusUnprocessableEntity, "page %q is not a positive number", v)
			return 0, 0, false
		}
		page = p
	}
	c.links(n, page, per)
	lo = min((page-1)*per, n)
	return lo, min(lo+per, n), true
}
