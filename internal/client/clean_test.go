package client

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/state"
)

func TestClean(t *testing.T) {
	cases := []struct{ in, want, text string }{
		{"plain", "plain", "plain"},
		{"tab\tkept", "tab\tkept", "tab\tkept"},
		{"Mallory\x1b]0;pwned\x07", `Mallory\x1b]0;pwned\x07`, `Mallory\x1b]0;pwned\x07`},
		{"red\x1b[31m!", `red\x1b[31m!`, `red\x1b[31m!`},
		{"over\rwrite", `over\rwrite`, `over\rwrite`},
		{"two\nlines", `two\nlines`, "two\nlines"},
		{"c1 \u009b31m csi", `c1 \u009b31m csi`, `c1 \u009b31m csi`},
		{"del\x7f", `del\x7f`, `del\x7f`},
		{"bad \xff byte", `bad \xff byte`, `bad \xff byte`},
		{"Zoë → ünïcode", "Zoë → ünïcode", "Zoë → ünïcode"},
		{"\x00nul", `\x00nul`, `\x00nul`},
	}
	for _, c := range cases {
		if got := Clean(c.in); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := CleanText(c.in); got != c.text {
			t.Errorf("CleanText(%q) = %q, want %q", c.in, got, c.text)
		}
	}
}

// hasControl reports a terminal control character other than tab and newline.
func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

func TestTablesEscapeControlCharacters(t *testing.T) {
	const mallory = "Mallory\x1b]0;pwned\x07"
	var b bytes.Buffer
	h := []state.DeployRecord{
		{Revision: "abc1234def", Author: mallory, StartedAt: time.Now(), Outcome: "succeeded\x1b[2J"},
		{Revision: "abc1234def", Caller: "cli:\x1b[1Aeve\r", Author: mallory, Reason: "manual\u009b"},
	}
	if err := PrintHistory(&b, h, "table"); err != nil {
		t.Fatal(err)
	}
	apps := []state.AppState{{Repo: "r", App: "a", Kind: "stack\x1b[0m", Status: "synced\x07", PinnedRevision: "\x1b]8;;x\x07"}}
	if err := PrintApps(&b, apps, "table"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if hasControl(out) {
		t.Errorf("table output holds control characters:\n%q", out)
	}
	for _, want := range []string{`Mallory\x1b]0;pwned\x07`, `cli:\x1b[1Aeve\r (commit by Mallory\x1b]0;pwned\x07)`, `succeeded\x1b[2J`, `stack\x1b[0m`, `synced\x07`} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestAPIErrorEscapesControlCharacters(t *testing.T) {
	e := apiError(409, []byte(`{"error":"plan by Mallory\u001b]0;pwned\u0007 is stale\nsecond line"}`))
	got := e.Error()
	if hasControl(got) || !strings.Contains(got, `Mallory\x1b]0;pwned\x07 is stale`) || !strings.Contains(got, "\nsecond line") {
		t.Errorf("APIError = %q", got)
	}
	if e.Message != "plan by Mallory\x1b]0;pwned\x07 is stale\nsecond line" {
		t.Errorf("Message must stay as the server sent it: %q", e.Message)
	}
}
