package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/notify"
)

// TestSlackScrubbing: every text goes through the caller's redactor
// (internal/redact) before it is cut and escaped, and the token is scrubbed
// even when the caller's redactor does not know it.
func TestSlackScrubbing(t *testing.T) {
	o := RenderOptions{Scrub: redact.New("xoxb-secret-1", "", "abc", "xoxb-secret-1-longer", "pw-1234").String}
	tests := []struct{ in, want string }{
		{"token xoxb-secret-1 here", "token [redacted] here"},
		{"xoxb-secret-1-longer", "[redacted]"}, // the longer secret goes whole
		{"abc is too short to be a secret", "abc is too short to be a secret"},
		{"pw-1234pw-1234", "[redacted][redacted]"},
		{"clone https://user:pass@github.com/a/b failed", "clone https://[redacted]@github.com/a/b failed"},
	}
	for _, tt := range tests {
		if got := o.clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Scrub before cutting: a secret across the cut must not leave a prefix.
	long := strings.Repeat("a", 10) + "xoxb-secret-1"
	if got := o.cut(long, 15); strings.Contains(got, "xoxb") {
		t.Errorf("cut left part of a secret: %q", got)
	}
	if (RenderOptions{}).clean("x") != "x" {
		t.Error("no secrets should mean no scrubbing")
	}
	n, err := New(fakeJS{}, Options{Token: "xoxb-only-the-token", Routes: []Route{{Events: []string{"*"}, Channel: "#x"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.clean("bad xoxb-only-the-token"); got != "bad [redacted]" {
		t.Errorf("token not scrubbed without Scrub: %q", got)
	}
	n, err = New(fakeJS{}, Options{Token: "xoxb-only-the-token", Scrub: redact.New("pw-1234").String}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.clean("xoxb-only-the-token pw-1234"); got != "[redacted] [redacted]" {
		t.Errorf("token and Scrub's secrets not both scrubbed: %q", got)
	}
}

// TestSlackScrubbingBareUserinfo: a URL user without a password
// (ssh://git@host, or a token used as the user, https://TOKEN@host) is
// masked, as the notifier's own scrubber did before internal/redact.
func TestSlackScrubbingBareUserinfo(t *testing.T) {
	o := RenderOptions{Scrub: redact.New().String}
	for in, want := range map[string]string{
		"ssh://git@host/x and mail a@b.c":      "ssh://[redacted]@host/x and mail a@b.c",
		"https://ghp_abc123@github.com/acme/x": "https://[redacted]@github.com/acme/x",
	} {
		if got := o.clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
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

// Every type of the event catalogue has a title of its own.
func TestSlackTitlesCoverCatalogue(t *testing.T) {
	for _, typ := range notify.Types() {
		if _, ok := titles[typ]; !ok {
			t.Errorf("no Slack title for %s", typ)
		}
	}
	if len(titles) != len(notify.Types()) {
		t.Errorf("%d titles for %d catalogued types", len(titles), len(notify.Types()))
	}
}

// Render is a pure function of the event and the options: every catalogued
// type renders, twice the same, with a header naming the app and a context
// line naming the type.
func TestSlackRenderCatalogue(t *testing.T) {
	o := RenderOptions{RepoURLs: map[string]string{"platform": "https://github.com/acme/platform.git"}}
	for _, typ := range notify.Types() {
		c, a, _ := strings.Cut(typ, ".")
		ev := notify.New("i", c, a, notify.Data{Repo: "platform", App: "web", Revision: "0123456789abcdef", PR: 3})
		m := Render(ev, o)
		again := Render(ev, o)
		b1, _ := json.Marshal(m.Blocks)
		b2, _ := json.Marshal(again.Blocks)
		if m.Text != again.Text || string(b1) != string(b2) {
			t.Errorf("%s: two renders differ", typ)
		}
		if !strings.Contains(m.Text, titles[typ].words+": platform/web @ 0123456") {
			t.Errorf("%s: fallback %q", typ, m.Text)
		}
		if !strings.Contains(string(b1), "`io.driftless."+typ+"`") || !strings.Contains(string(b1), "https://github.com/acme/platform/pull/3") {
			t.Errorf("%s: blocks %s", typ, b1)
		}
	}
}

func TestSlackRenderReplies(t *testing.T) {
	o := RenderOptions{Scrub: redact.New("s3cr3t-value").String}
	ev := notify.New("i", notify.CatDeploy, notify.ActFailed, notify.Data{Repo: "platform", App: "web",
		DurationMS: 1500, Step: "wait healthy", Error: "token s3cr3t-value <rejected>"})
	m := RenderReply(ev, o)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m.Blocks)
	b := buf.Bytes()
	for _, want := range []string{"Deploy failed", "in 2s", "> wait healthy", "token [redacted] &lt;rejected&gt;"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("reply lacks %q: %s", want, b)
		}
	}
	if strings.Contains(string(b)+m.Text, "s3cr3t-value") {
		t.Errorf("secret in the reply")
	}
	first := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	dev := notify.New("i", notify.CatDrift, notify.ActDetected, notify.Data{Repo: "platform", App: "web", FirstSeen: &first,
		Drift: []notify.DriftItem{{Address: "aws_s3_bucket.logs", Attributes: []string{"tags"}}}})
	for change, want := range map[DriftChange]string{
		DriftStill:    "Drift still open* (first seen 2030-01-02T03:04:05Z)\n*Drifted resources*\n• `aws_s3_bucket.logs`: tags",
		DriftChanged:  "Drift changed*",
		DriftResolved: "Drift resolved*: live state matches Git again",
	} {
		m := RenderDriftReply(dev, change, o)
		b, _ := json.Marshal(m.Blocks)
		var blocks []map[string]any
		_ = json.Unmarshal(b, &blocks)
		txt, _ := blocks[0]["text"].(map[string]any)["text"].(string)
		if !strings.Contains(txt, want) {
			t.Errorf("%s: reply %q lacks %q", change, txt, want)
		}
	}
}

func ExampleRender() {
	ev := notify.New("driftless-1", notify.CatDeploy, notify.ActSucceeded, notify.Data{
		Repo: "platform", App: "web", Revision: "9fceb02d0ae598e95dc970b74767f19372d61af8",
		Author: "Ada Lovelace", PR: 2,
	})
	m := Render(ev, RenderOptions{Scrub: redact.New("xoxb-secret").String})
	fmt.Println(m.Text)
	// Output: :white_check_mark: Deployed: platform/web @ 9fceb02 by Ada Lovelace (#2)
}
