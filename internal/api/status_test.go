package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/state"
)

// statusServer serves ctl's status pages.
func statusServer(t *testing.T, ctl Controller) *fixture {
	t.Helper()
	s := New(ctl, nil, "", prometheus.NewRegistry(), nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv}
}

// checkHTML asserts the common properties of every status page response.
func checkHTML(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d:\n%s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.HasPrefix(r.body, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(r.body), "</html>") {
		t.Errorf("not a whole HTML document:\n%s", r.body)
	}
	// The inline stylesheet must be the one the CSP allows, or browsers
	// show the page unstyled.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no <style> element")
	}
	sum := sha256.Sum256([]byte(m[1]))
	csp := r.header.Get("Content-Security-Policy")
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q does not allow the page's stylesheet (%s)", csp, want)
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q is not default-src 'none'", csp)
	}
	for _, bad := range []string{"<script", "http://", "https://", "javascript:"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("page contains %q (no scripts, no external assets)", bad)
		}
	}
}

// inOrder asserts that the strings occur in body in this order.
func inOrder(t *testing.T, body string, subs ...string) {
	t.Helper()
	at := 0
	for _, s := range subs {
		i := strings.Index(body[at:], s)
		if i < 0 {
			t.Errorf("%q missing or out of order (after byte %d)", s, at)
			return
		}
		at += i + len(s)
	}
}

func TestStatusIndexPage(t *testing.T) {
	f := statusServer(t, demoController(time.Now()))
	r := f.do(t, "GET", "/", "", "", nil)
	checkHTML(t, r, 200)
	b := r.body
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		`<title>driftless: 1 failed, 1 drifted, 1 awaiting-approval</title>`,
		`<strong>8</strong> apps`,
		// summary: the statuses wanting attention first
		`<span class="badge st-failed"><strong>1</strong> failed</span>`,
		`<span class="badge st-synced"><strong>1</strong> synced</span>`,
		// short SHAs, full SHA in the title
		`<code class="rev" title="3f9c2a7e1b4d5c6f7a8b9c0d1e2f3a4b5c6d7e8f">3f9c2a7</code>`,
		`href="/apps/platform/network"`,
		// last deploy: outcome, author, PR
		`<span class="badge small st-failed">failed</span>`,
		`by carol · PR #42 · commit`,
		`<span class="badge small st-progressing">running</span>`,
		`pinned <code class="rev" title="3f9c2a7e1b4d5c6f7a8b9c0d1e2f3a4b5c6d7e8f">3f9c2a7</code>`,
		// escaped, in the cell and in its title
		`<span title="apply: &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; exit status 1">apply: &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; exit status 1</span>`,
		`<span class="none">never</span>`,
		`5d ago`,
		`3m ago`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, st := range statusOrder {
		if !strings.Contains(b, fmt.Sprintf(`<span class="badge st-%s">%s</span>`, st, st)) {
			t.Errorf("no badge for status %s", st)
		}
	}
	// Grouped by repo, then sorted by app.
	inOrder(t, b, `scope="rowgroup">payments`, "/apps/payments/api", "/apps/payments/db", "/apps/payments/worker",
		`scope="rowgroup">platform`, "/apps/platform/dns", "/apps/platform/edge", "/apps/platform/iam",
		"/apps/platform/network", "/apps/platform/web")
	inOrder(t, b, "st-failed", "st-drifted", "st-awaiting-approval", "st-out-of-sync", "st-progressing",
		"st-pinned", "st-suspended", "st-synced", "<table")
}

func TestStatusIndexTruncatesLongErrors(t *testing.T) {
	long := strings.Repeat("terraform said no. ", 30) + "THE-END"
	ctl := &fakeController{apps: []state.AppState{{Repo: "r", App: "a", Kind: "stack", Status: state.StatusFailed, LastError: long}}}
	r := statusServer(t, ctl).do(t, "GET", "/", "", "", nil)
	checkHTML(t, r, 200)
	if !strings.Contains(r.body, `title="`+long+`"`) {
		t.Errorf("the full error is not in the title attribute")
	}
	if strings.Count(r.body, "THE-END") != 1 || !strings.Contains(r.body, "…</span>") {
		t.Errorf("the error is not truncated in the cell:\n%s", r.body)
	}
}

func TestStatusIndexEmpty(t *testing.T) {
	r := statusServer(t, &fakeController{}).do(t, "GET", "/", "", "", nil)
	checkHTML(t, r, 200)
	for _, want := range []string{"No apps yet", "<title>driftless: no apps</title>", "<strong>0</strong> apps"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("empty page lacks %q:\n%s", want, r.body)
		}
	}
}

func TestStatusAppPage(t *testing.T) {
	f := statusServer(t, demoController(time.Now()))
	cases := []struct {
		path  string
		wants []string
		order []string
	}{
		{"/apps/platform/network", []string{
			`<title>platform/network: failed · driftless</title>`,
			`<meta http-equiv="refresh" content="10">`,
			`<a href="/">All apps</a> / platform / network`,
			// last error in full, escaped
			`<pre>apply: &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; exit status 1</pre>`,
			`<dt>Failed attempts</dt><dd>2 at <code class="rev" title="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678">a1b2c3d</code>; next try <time`,
			// last plan: summary, changes
			`<p class="plan-summary">1 to add, 1 to change, 1 to destroy</p>`,
			`<span class="act act-create">create</span></td><td><code>aws_subnet.private[&#34;eu-west-1a&#34;]</code>`,
			`<span class="act act-delete">delete</span></td><td><code>aws_nat_gateway.legacy</code>`,
			`<code title="sha256:5e1f0c9a7d3b2e4f6a8c0b1d3e5f7a9c">sha256:5e1f0c9a…</code>`,
			// history: who, reason, outcome, duration, changes, error
			`<td>carol <span class="sub">PR #42</span></td>`,
			`<td>47s</td>`, `<td>1m35s</td>`, `<td>3s</td>`,
			`<span class="badge small st-drifted">interrupted</span>`,
			`<td>automatic</td>`,
		}, []string{"<h2>State</h2>", "<h2>Last deploy</h2>", "<h2>Last error</h2>", "<h2>Last plan</h2>", "<h2>History</h2>",
			"<td>carol ", "<td>alice ", "<td>driftless</td>"}},
		{"/apps/platform/dns", []string{`<h2>Drift</h2>`, `The last plan below shows what a sync would change.`,
			`aws_route53_record.www`, `No deploys recorded.`}, nil},
		{"/apps/platform/web", []string{`<dt>Pinned revision</dt><dd><code class="rev" title="3f9c2a7e1b4d5c6f7a8b9c0d1e2f3a4b5c6d7e8f">3f9c2a7</code> <span class="sub">auto-sync paused`,
			`<dt>Who</dt><dd>api</dd>`, `<dt>Reason</dt><dd>rollback</dd>`, `No plan yet.`}, nil},
		{"/apps/platform/edge", []string{`<dt>Suspended</dt><dd><strong>yes</strong>`, `No deploy yet.`}, nil},
		{"/apps/payments/worker", []string{`<h3>In flight</h3>`, `<dd>running</dd>`, `<dt>Who</dt><dd>dave · PR #7</dd>`}, nil},
		{"/apps/payments/db", []string{`<span class="badge st-awaiting-approval">awaiting-approval</span>`,
			`<span class="act act-replace">replace</span></td><td><code>aws_db_parameter_group.pg16</code>`}, nil},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := f.do(t, "GET", c.path, "", "", nil)
			checkHTML(t, r, 200)
			for _, want := range c.wants {
				if !strings.Contains(r.body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if c.order != nil {
				inOrder(t, r.body, c.order...)
			}
			if t.Failed() {
				t.Logf("page:\n%s", r.body)
			}
		})
	}
}

// brokenController fails Apps and History with err.
type brokenController struct {
	*fakeController
	err error
}

func (b brokenController) Apps(context.Context) ([]state.AppState, error) { return nil, b.err }
func (b brokenController) History(context.Context, string, string) ([]state.DeployRecord, error) {
	return nil, b.err
}

func TestStatusPageErrors(t *testing.T) {
	demo := demoController(time.Now())
	f := statusServer(t, demo)
	broken := statusServer(t, brokenController{demo, errors.New(`kv: <b>timeout</b>`)})
	cases := []struct {
		name   string
		f      *fixture
		path   string
		status int
		wants  []string
	}{
		{"unknown app", f, "/apps/platform/nope", 404, []string{"<h1>404 · No such app</h1>", "app platform/nope: not found", `<a href="/">Back to all apps</a>`}},
		{"unknown repo", f, "/apps/other/web", 404, []string{"No such app"}},
		{"bad name", f, "/apps/platform/Web%3Cx%3E", 400, []string{"<h1>400 · Invalid app name</h1>", "&#34;Web&lt;x&gt;&#34; is not an app or repo name"}},
		{"apps fail", broken, "/", 500, []string{"<h1>500 · Internal Server Error</h1>", "kv: &lt;b&gt;timeout&lt;/b&gt;"}},
		{"history fails", broken, "/apps/platform/network", 200, []string{"Could not read the history: kv: &lt;b&gt;timeout&lt;/b&gt;", "<h2>Last plan</h2>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.f.do(t, "GET", c.path, "", "", nil)
			checkHTML(t, r, c.status)
			for _, want := range c.wants {
				if !strings.Contains(r.body, want) {
					t.Errorf("page lacks %q:\n%s", want, r.body)
				}
			}
			if c.status != 200 && strings.Contains(r.body, `http-equiv="refresh"`) {
				t.Errorf("an error page refreshes itself")
			}
		})
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "-"},
		{now, "just now"},
		{now.Add(-4 * time.Second), "just now"},
		{now.Add(-42 * time.Second), "42s ago"},
		{now.Add(-5*time.Minute - 59*time.Second), "5m ago"},
		{now.Add(-47 * time.Hour), "47h ago"},
		{now.Add(-50 * time.Hour), "2d ago"},
		{now.Add(90 * time.Second), "in 1m"},
	}
	for _, c := range cases {
		if got := ago(now, c.t); got != c.want {
			t.Errorf("ago(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

func TestTruncateAndShort(t *testing.T) {
	cases := []struct{ fn, in, want string }{
		{"truncate", "short", "short"},
		{"truncate", "exactly10!", "exactly10!"},
		{"truncate", "eleven char", "eleven ch…"},
		{"truncate", "ünïcödé ünïcödé", "ünïcödé ü…"},
		{"truncate", "abcdefgh ijk", "abcdefgh…"},
		{"short", "", "-"},
		{"short", "abc", "abc"},
		{"short", "0123456789abcdef", "0123456"},
	}
	for _, c := range cases {
		got := shortRev(c.in)
		if c.fn == "truncate" {
			got = truncate(10, c.in)
		}
		if got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.fn, c.in, got, c.want)
		}
	}
}

func TestDeployDuration(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		d    state.DeployRecord
		want string
	}{
		{state.DeployRecord{}, "-"},
		{state.DeployRecord{StartedAt: t0}, "running"},
		{state.DeployRecord{StartedAt: t0, Outcome: "interrupted"}, "-"},
		{state.DeployRecord{StartedAt: t0, FinishedAt: t0.Add(1234 * time.Millisecond)}, "1.2s"},
		{state.DeployRecord{StartedAt: t0, FinishedAt: t0.Add(95*time.Second + 400*time.Millisecond)}, "1m35s"},
		{state.DeployRecord{StartedAt: t0, FinishedAt: t0.Add(-time.Second)}, "-"},
	}
	for _, c := range cases {
		if got := deployDuration(c.d); got != c.want {
			t.Errorf("deployDuration(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestSummarizeAndTitle(t *testing.T) {
	app := func(repo, name, status string) state.AppState {
		return state.AppState{Repo: repo, App: name, Status: status}
	}
	cases := []struct {
		name    string
		apps    []state.AppState
		summary string
		groups  string
		title   string
	}{
		{"none", nil, "", "", "driftless: no apps"},
		{"all synced", []state.AppState{app("b", "x", "synced"), app("a", "y", "synced")},
			"2 synced", "a[y] b[x]", "driftless: all 2 synced"},
		{"mixed", []state.AppState{app("r", "c", "synced"), app("r", "a", "failed"), app("q", "z", "pinned"),
			app("r", "b", "zzz-new"), app("r", "d", "failed"), app("q", "y", "aaa-new")},
			"2 failed, 1 pinned, 1 synced, 1 aaa-new, 1 zzz-new", "q[y z] r[a b c d]", "driftless: 2 failed"},
		{"calm", []state.AppState{app("r", "a", "synced"), app("r", "b", "progressing")},
			"1 progressing, 1 synced", "r[a b]", "driftless: 2 apps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sum, groups := summarize(c.apps)
			var s, g []string
			for _, x := range sum {
				s = append(s, fmt.Sprintf("%d %s", x.N, x.Status))
			}
			for _, x := range groups {
				var names []string
				for _, a := range x.Apps {
					names = append(names, a.App)
				}
				g = append(g, x.Repo+"["+strings.Join(names, " ")+"]")
			}
			if got := strings.Join(s, ", "); got != c.summary {
				t.Errorf("summary = %q, want %q", got, c.summary)
			}
			if got := strings.Join(g, " "); got != c.groups {
				t.Errorf("groups = %q, want %q", got, c.groups)
			}
			if got := indexTitle(len(c.apps), sum); got != c.title {
				t.Errorf("title = %q, want %q", got, c.title)
			}
		})
	}
}
