package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/driftless/driftless/state"
)

// The status page: GET / lists every app, GET /apps/{repo}/{app} shows one.
// Both are rendered on the server with html/template (every value escaped),
// style themselves with one inline stylesheet allowed by its hash in the
// Content-Security-Policy, and reload themselves every refreshSeconds. No
// JavaScript, no external assets.

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// refreshSeconds is how often the pages reload themselves.
const refreshSeconds = 10

var (
	pageCSS = func() template.CSS {
		b, err := templateFS.ReadFile("templates/style.css")
		if err != nil {
			panic(err)
		}
		return template.CSS(b)
	}()
	// pageCSP allows nothing but the page's own inline stylesheet.
	pageCSP = func() string {
		sum := sha256.Sum256([]byte(pageCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	}()
	pageTmpl = template.Must(template.New("pages").Funcs(template.FuncMap{
		"short":        shortRev,
		"ago":          ago,
		"stamp":        stamp,
		"truncate":     truncate,
		"duration":     deployDuration,
		"statusClass":  statusClass,
		"outcomeClass": outcomeClass,
		"outcomeText":  outcomeText,
		"actionClass":  actionClass,
		"deployView":   newDeployView,
	}).ParseFS(templateFS, "templates/*.html"))
)

// statusOrder is the order of the summary line: the statuses that want a
// person's attention first.
var statusOrder = []string{
	state.StatusFailed,
	state.StatusDrifted,
	state.StatusAwaitingApproval,
	state.StatusOutOfSync,
	state.StatusProgressing,
	state.StatusPinned,
	state.StatusSuspended,
	state.StatusSynced,
}

// attention lists the statuses named in the page title.
var attention = map[string]bool{
	state.StatusFailed:           true,
	state.StatusDrifted:          true,
	state.StatusAwaitingApproval: true,
}

type statusCount struct {
	Status string
	N      int
}

type repoGroup struct {
	Repo string
	Apps []state.AppState
}

// pageBase is what every page's layout needs.
type pageBase struct {
	Title   string
	CSS     template.CSS
	Refresh int // seconds; 0 means no reload
	Now     time.Time
}

type indexPage struct {
	pageBase
	Total   int
	Summary []statusCount
	Repos   []repoGroup
}

type appPage struct {
	pageBase
	App        state.AppState
	History    []state.DeployRecord
	HistoryErr string
}

// deployView is a deploy with the render time, for the "deploy" template.
type deployView struct {
	Now time.Time
	D   state.DeployRecord
}

func newDeployView(now time.Time, d *state.DeployRecord) deployView {
	return deployView{Now: now, D: *d}
}

type errorPage struct {
	pageBase
	Code    int
	Heading string
	Message string
}

// summarize counts apps per status (statusOrder first, unknown statuses
// after, by name) and groups them by repo, both sorted by name.
func summarize(apps []state.AppState) ([]statusCount, []repoGroup) {
	counts := map[string]int{}
	for _, a := range apps {
		counts[a.Status]++
	}
	var sum []statusCount
	for _, st := range statusOrder {
		if n := counts[st]; n > 0 {
			sum = append(sum, statusCount{st, n})
			delete(counts, st)
		}
	}
	var rest []statusCount
	for st, n := range counts {
		rest = append(rest, statusCount{st, n})
	}
	slices.SortFunc(rest, func(a, b statusCount) int { return strings.Compare(a.Status, b.Status) })
	sum = append(sum, rest...)

	sorted := slices.Clone(apps)
	slices.SortStableFunc(sorted, func(a, b state.AppState) int {
		if c := strings.Compare(a.Repo, b.Repo); c != 0 {
			return c
		}
		return strings.Compare(a.App, b.App)
	})
	var groups []repoGroup
	for _, a := range sorted {
		if len(groups) == 0 || groups[len(groups)-1].Repo != a.Repo {
			groups = append(groups, repoGroup{Repo: a.Repo})
		}
		g := &groups[len(groups)-1]
		g.Apps = append(g.Apps, a)
	}
	return sum, groups
}

// indexTitle is the tab title: what needs attention, or that all is well.
func indexTitle(total int, sum []statusCount) string {
	var parts []string
	for _, c := range sum {
		if attention[c.Status] {
			parts = append(parts, fmt.Sprintf("%d %s", c.N, c.Status))
		}
	}
	switch {
	case total == 0:
		return "driftless: no apps"
	case len(parts) > 0:
		return "driftless: " + strings.Join(parts, ", ")
	case len(sum) == 1 && sum[0].Status == state.StatusSynced:
		return fmt.Sprintf("driftless: all %d synced", total)
	}
	return fmt.Sprintf("driftless: %d apps", total)
}

// statusPage is GET /: every app.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	apps, err := s.ctl.Apps(r.Context())
	if err != nil {
		s.htmlFail(w, r, err)
		return
	}
	sum, groups := summarize(apps)
	s.render(w, r, http.StatusOK, "index", indexPage{
		pageBase: pageBase{Title: indexTitle(len(apps), sum), CSS: pageCSS, Refresh: refreshSeconds, Now: time.Now()},
		Total:    len(apps),
		Summary:  sum,
		Repos:    groups,
	})
}

// appStatusPage is GET /apps/{repo}/{app}: one app and its history.
func (s *Server) appStatusPage(w http.ResponseWriter, r *http.Request) {
	repo, app := r.PathValue("repo"), r.PathValue("app")
	for _, n := range []string{repo, app} {
		if !nameRE.MatchString(n) {
			s.htmlError(w, r, http.StatusBadRequest, "Invalid app name",
				fmt.Sprintf("%q is not an app or repo name: names match [a-z0-9][a-z0-9_-]*.", n))
			return
		}
	}
	st, err := s.ctl.App(r.Context(), repo, app)
	if err != nil {
		s.htmlFail(w, r, err)
		return
	}
	page := appPage{
		pageBase: pageBase{Title: fmt.Sprintf("%s/%s: %s · driftless", st.Repo, st.App, st.Status), CSS: pageCSS,
			Refresh: refreshSeconds, Now: time.Now()},
		App: st,
	}
	// The app's state is worth showing even when its history is not.
	h, err := s.ctl.History(r.Context(), repo, app)
	if err != nil {
		s.log.Warn("status page: reading history", "repo", repo, "app", app, "err", err)
		page.HistoryErr = err.Error()
	}
	page.History = h
	s.render(w, r, http.StatusOK, "app", page)
}

// htmlFail answers a Controller error with an HTML error page.
func (s *Server) htmlFail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code >= 500 {
		s.log.Warn("status page request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	heading := http.StatusText(code)
	if errors.Is(err, state.ErrNotFound) {
		heading = "No such app"
	}
	s.htmlError(w, r, code, heading, err.Error())
}

func (s *Server) htmlError(w http.ResponseWriter, r *http.Request, code int, heading, msg string) {
	s.render(w, r, code, "error", errorPage{
		pageBase: pageBase{Title: fmt.Sprintf("%d %s · driftless", code, heading), CSS: pageCSS, Now: time.Now()},
		Code:     code, Heading: heading, Message: msg,
	})
}

// render executes one page into a buffer first, so that a template error
// gives a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("status page: rendering", "page", name, "err", err)
		writeError(w, http.StatusInternalServerError, "rendering the status page failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = buf.WriteTo(w)
	}
}

// shortRev is a revision's first 7 characters, or "-" when there is none.
func shortRev(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	if s == "" {
		return "-"
	}
	return s
}

// ago is how long before now t was, coarsely: "12s ago", "5m ago", "3h ago",
// "2d ago"; "in 5m" for a time after now; "-" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// stamp is t in UTC, RFC 3339, or "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// truncate cuts s to at most n characters (runes), ending with "…" when cut.
func truncate(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// deployDuration is how long a finished deploy took, rounded for people;
// "running" while it has not finished, "-" when it never started.
func deployDuration(d state.DeployRecord) string {
	switch {
	case d.StartedAt.IsZero():
		return "-"
	case d.FinishedAt.IsZero():
		if d.Outcome == "" {
			return "running"
		}
		return "-"
	}
	el := d.FinishedAt.Sub(d.StartedAt)
	switch {
	case el < 0:
		return "-"
	case el < 10*time.Second:
		return el.Round(100 * time.Millisecond).String()
	}
	return el.Round(time.Second).String()
}

// statusClass is the CSS class of a status badge.
func statusClass(status string) string {
	if slices.Contains(statusOrder, status) {
		return "st-" + status
	}
	return "st-unknown"
}

// outcomeText is a deploy's outcome as shown: "running" when it has none.
func outcomeText(outcome string) string {
	if outcome == "" {
		return "running"
	}
	return outcome
}

// outcomeClass is the CSS class of a deploy outcome badge.
func outcomeClass(outcome string) string {
	switch outcome {
	case "succeeded":
		return "st-synced"
	case "failed":
		return "st-failed"
	case "interrupted":
		return "st-drifted"
	case "":
		return "st-progressing"
	}
	return "st-unknown"
}

// actionClass is the CSS class of a planned change's action.
func actionClass(action string) string {
	switch action {
	case "create", "update", "delete", "replace", "read":
		return "act-" + action
	}
	return "act-other"
}
