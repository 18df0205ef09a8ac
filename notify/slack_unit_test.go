package notify

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack"
)

func TestSlackEventPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
		invalid bool
	}{
		{pattern: "*", match: []string{"deploy.started", "drift.resolved", "source.invalid"}},
		{pattern: ">", match: []string{"plan.ready"}},
		{pattern: "deploy.*", match: []string{"deploy.started", "deploy.failed"}, nomatch: []string{"rollback.failed", "drift.detected"}},
		{pattern: "deploy", match: []string{"deploy.succeeded"}, nomatch: []string{"plan.ready"}},
		{pattern: "rollback.failed", match: []string{"rollback.failed"}, nomatch: []string{"rollback.started", "deploy.failed"}},
		{pattern: "*.failed", match: []string{"rollback.failed", "source.failed"}, nomatch: []string{"deploy.started"}},
		{pattern: " drift.* ", match: []string{"drift.detected"}},
		{pattern: "", invalid: true},
		{pattern: "deploy.", invalid: true},
		{pattern: ".started", invalid: true},
		{pattern: "deploy.started.x", invalid: true},
		{pattern: "dep*.started", invalid: true},
		{pattern: "deploy.>", invalid: true},
		{pattern: "deploy started", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := parseEventPattern(tt.pattern)
			if tt.invalid {
				if err == nil {
					t.Fatalf("parseEventPattern(%q) = %v, want an error", tt.pattern, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range tt.match {
				c, a, _ := strings.Cut(typ, ".")
				if !matchEventPattern(p, c, a) {
					t.Errorf("%q does not match %s", tt.pattern, typ)
				}
			}
			for _, typ := range tt.nomatch {
				c, a, _ := strings.Cut(typ, ".")
				if matchEventPattern(p, c, a) {
					t.Errorf("%q matches %s", tt.pattern, typ)
				}
			}
		})
	}
}

func TestSlackRouteDedupesChannels(t *testing.T) {
	s, err := NewSlack(fakeJS{}, SlackOptions{Token: "xoxb-t", Routes: []SlackRoute{
		{Events: []string{"deploy.*"}, Channel: "#a"},
		{Events: []string{"*"}, Channel: "#a"},
		{Events: []string{"*.failed", "drift.*"}, Channel: "#b"},
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"deploy.failed":  "#a,#b",
		"deploy.started": "#a",
		"drift.resolved": "#a,#b",
	}
	for typ, want := range tests {
		c, a, _ := strings.Cut(typ, ".")
		got := strings.Join(s.route(New("i", c, a, Data{Repo: "r"})), ",")
		if got != want {
			t.Errorf("route(%s) = %s, want %s", typ, got, want)
		}
	}
}

// fakeJS satisfies the constructor; these unit tests never reach JetStream.
type fakeJS struct{ jetstream.JetStream }

func TestNewSlackValidates(t *testing.T) {
	ok := []SlackRoute{{Events: []string{"*"}, Channel: "#x"}}
	tests := []struct {
		name string
		js   jetstream.JetStream
		opts SlackOptions
		want string
	}{
		{"no js", nil, SlackOptions{Token: "xoxb-1", Routes: ok}, "no JetStream"},
		{"no token", fakeJS{}, SlackOptions{Token: "  ", Routes: ok}, "token is empty"},
		{"no channel", fakeJS{}, SlackOptions{Token: "xoxb-1", Routes: []SlackRoute{{Events: []string{"*"}}}}, "channel is empty"},
		{"no events", fakeJS{}, SlackOptions{Token: "xoxb-1", Routes: []SlackRoute{{Channel: "#x"}}}, "no event patterns"},
		{"bad pattern", fakeJS{}, SlackOptions{Token: "xoxb-1", Routes: []SlackRoute{{Events: []string{"a.b.c"}, Channel: "#x"}}}, "invalid event pattern"},
		{"valid", fakeJS{}, SlackOptions{Token: "xoxb-1", Routes: ok, APIURL: "http://x/api"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSlack(tt.js, tt.opts, nil, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.opts.Durable != DefaultSlackDurable || s.opts.Bucket != SlackBucket || s.opts.APIURL != "http://x/api/" {
					t.Errorf("defaults not applied: %+v", s.opts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.opts.Token) && strings.TrimSpace(tt.opts.Token) != "" {
				t.Errorf("token in error %q", err)
			}
		})
	}
}

func TestParseForge(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		url, commit, pr string
	}{
		{"https://github.com/acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://github.com/acme/platform", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"git@github.com:acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"ssh://git@github.com/acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://x-access-token:ghs_1@github.com/acme/platform.git", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://www.GitHub.com/acme/platform/", "https://github.com/acme/platform/commit/" + sha, "https://github.com/acme/platform/pull/9"},
		{"https://gitlab.com/acme/infra/platform.git", "https://gitlab.com/acme/infra/platform/-/commit/" + sha, "https://gitlab.com/acme/infra/platform/-/merge_requests/9"},
		{"git@gitlab.com:acme/platform.git", "https://gitlab.com/acme/platform/-/commit/" + sha, "https://gitlab.com/acme/platform/-/merge_requests/9"},
		{"https://bitbucket.org/acme/platform.git", "https://bitbucket.org/acme/platform/commits/" + sha, "https://bitbucket.org/acme/platform/pull-requests/9"},
		{"git@bitbucket.org:acme/platform.git", "https://bitbucket.org/acme/platform/commits/" + sha, "https://bitbucket.org/acme/platform/pull-requests/9"},
		// Unknown forges, local paths and odd paths give no link.
		{"https://git.example.com/acme/platform.git", "", ""},
		{"/srv/git/platform.git", "", ""},
		{"file:///srv/git/platform.git", "", ""},
		{"https://github.com/acme", "", ""},
		{"https://github.com/acme/platform/extra", "", ""},
		{"https://github.com/acme/pl|atform", "", ""},
		{"https://github.com/../platform", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			f, ok := parseForge(tt.url)
			if tt.commit == "" {
				if ok {
					t.Fatalf("parseForge(%q) = %+v, want no forge", tt.url, f)
				}
				return
			}
			if !ok {
				t.Fatalf("parseForge(%q): no forge", tt.url)
			}
			if got := f.commitURL(sha); got != tt.commit {
				t.Errorf("commit = %s, want %s", got, tt.commit)
			}
			if got := f.prURL(9); got != tt.pr {
				t.Errorf("pr = %s, want %s", got, tt.pr)
			}
		})
	}
}

func TestEscapeKeyPart(t *testing.T) {
	tests := map[string]string{
		"#deploys":     "=23deploys",
		"C0123_AB-c":   "C0123_AB-c",
		"platform/web": "platform=2Fweb",
		"a.b":          "a=2Eb",
		"":             "=",
		"=":            "=3D",
		"é":            "=C3=A9",
	}
	seen := map[string]string{}
	for in, want := range tests {
		got := escapeKeyPart(in)
		if got != want {
			t.Errorf("escapeKeyPart(%q) = %q, want %q", in, got, want)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %q share key part %q", prev, in, got)
		}
		seen[got] = in
	}
	for _, k := range []string{eventKey("abc", "#deploys"), deployKey("#d", "dep.1"), driftKey("#d", "platform", "web")} {
		if !validKVKey.MatchString(k) || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			t.Errorf("bad KV key %q", k)
		}
	}
}

var validKVKey = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

func TestSlackScrubbing(t *testing.T) {
	s := &Slack{scrub: newScrubber([]string{"xoxb-secret-1", "", "abc", "xoxb-secret-1-longer", "pw-1234"})}
	tests := []struct{ in, want string }{
		{"token xoxb-secret-1 here", "token [redacted] here"},
		{"xoxb-secret-1-longer", "[redacted]"}, // the longer secret goes whole
		{"abc is too short to be a secret", "abc is too short to be a secret"},
		{"pw-1234pw-1234", "[redacted][redacted]"},
		{"clone https://user:pass@github.com/a/b failed", "clone https://[redacted]@github.com/a/b failed"},
		{"ssh://git@host/x and mail a@b.c", "ssh://[redacted]@host/x and mail a@b.c"},
	}
	for _, tt := range tests {
		if got := s.clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Scrub before cutting: a secret across the cut must not leave a prefix.
	long := strings.Repeat("a", 10) + "xoxb-secret-1"
	if got := s.cut(long, 15); strings.Contains(got, "xoxb") {
		t.Errorf("cut left part of a secret: %q", got)
	}
	if newScrubber(nil) != nil || (&Slack{}).clean("x") != "x" {
		t.Error("no secrets should mean no scrubbing")
	}
}

func TestTruncateAndEscape(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello", 5, "hello"},
		{"hello!", 5, "hell…"},
		{"héllo wörld", 4, "hél…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.limit); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
	if got := escapeMrkdwn("<!here> & <@U1>"); got != "&lt;!here&gt; &amp; &lt;@U1&gt;" {
		t.Errorf("escape = %q", got)
	}
}

func TestClassifySlackError(t *testing.T) {
	tests := []struct {
		err  error
		kind failKind
	}{
		{slack.SlackErrorResponse{Err: "invalid_auth"}, failAuth},
		{slack.SlackErrorResponse{Err: "not_authed"}, failAuth},
		{slack.SlackErrorResponse{Err: "account_inactive"}, failAuth},
		{slack.SlackErrorResponse{Err: "missing_scope"}, failAuth},
		{slack.SlackErrorResponse{Err: "channel_not_found"}, failChannel},
		{slack.SlackErrorResponse{Err: "not_in_channel"}, failChannel},
		{slack.SlackErrorResponse{Err: "is_archived"}, failChannel},
		{slack.SlackErrorResponse{Err: "internal_error"}, failTransient},
		{slack.SlackErrorResponse{Err: "invalid_blocks"}, failPermanent},
		{slack.SlackErrorResponse{Err: "message_not_found"}, failPermanent},
		{fmt.Errorf("post: %w", slack.SlackErrorResponse{Err: "msg_too_long"}), failPermanent},
		{slack.StatusCodeError{Code: 503, Status: "503"}, failTransient},
		{slack.StatusCodeError{Code: 404, Status: "404"}, failTransient}, // a wrong api_url: keep the events
		{errors.New("dial tcp: connection refused"), failTransient},
	}
	for _, tt := range tests {
		if got := classifySlackError("chat.postMessage", tt.err); got.kind != tt.kind {
			t.Errorf("classify(%v) = %v, want %v", tt.err, got.kind, tt.kind)
		}
	}
	if !(failChannel < failPermanent && failPermanent < failTransient && failTransient < failAuth) {
		t.Error("failure kinds out of order: settling picks the highest")
	}
}

func TestDefaultSlackBackoff(t *testing.T) {
	want := map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		6: 32 * time.Second, 7: time.Minute, 100: time.Minute}
	for n, w := range want {
		if got := defaultSlackBackoff(n); got != w {
			t.Errorf("backoff(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestDeployRankAndMerge(t *testing.T) {
	order := []string{"plan.ready", "plan.awaiting_approval", "deploy.started", "deploy.succeeded", "rollback.started", "rollback.failed"}
	for i := 1; i < len(order); i++ {
		if deployRank(order[i-1]) >= deployRank(order[i]) {
			t.Errorf("rank(%s) >= rank(%s)", order[i-1], order[i])
		}
	}
	old := Data{Repo: "r", App: "a", Author: "alice", PR: 4, Revision: "abc", Error: "old error", DurationMS: 5}
	got := mergeData(old, Data{DeployID: "d", DurationMS: 9})
	if got.Author != "alice" || got.PR != 4 || got.Revision != "abc" || got.DeployID != "d" {
		t.Errorf("merge lost fields: %+v", got)
	}
	if got.Error != "" || got.DurationMS != 9 {
		t.Errorf("outcome fields must come from the newer event: %+v", got)
	}
}

func TestDriftFingerprint(t *testing.T) {
	a := Data{Drift: []DriftItem{{Address: "x", Attributes: []string{"tags"}}}}
	b := Data{Drift: []DriftItem{{Address: "x", Attributes: []string{"tags", "acl"}}}}
	if driftFingerprint(a) == driftFingerprint(b) || driftFingerprint(a) != driftFingerprint(a) {
		t.Error("content hash does not tell drifts apart")
	}
	a.Extra = map[string]string{"fingerprint": "fp"}
	if driftFingerprint(a) != "fp" {
		t.Error("producer fingerprint ignored")
	}
}
