package slack

import (
	"regexp"
	"strings"
	"testing"
)

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
