package kv_test

import (
	"regexp"
	"testing"

	"github.com/driftless/driftless/internal/kv"
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
	token := regexp.MustCompile(`^[-_=a-zA-Z0-9]+$`)
	for in, want := range tests {
		got := kv.EscapeKeyPart(in)
		if got != want {
			t.Errorf("EscapeKeyPart(%q) = %q, want %q", in, got, want)
		}
		if !token.MatchString(got) {
			t.Errorf("EscapeKeyPart(%q) = %q is not one key token", in, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %q share key part %q", prev, in, got)
		}
		seen[got] = in
	}
}
