package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	r := New("ghp_secret123", "xoxb-slack-token", "", "ab")
	cases := map[string]string{
		"token ghp_secret123 leaked":                     "token [redacted] leaked",
		"https://x-access-token:ghp_secret123@host/repo": "https://[redacted]@host/repo",
		"nats://user:pw@127.0.0.1:4222":                  "nats://[redacted]@127.0.0.1:4222",
		"Bearer xoxb-slack-token":                        "Bearer [redacted]",
		"nothing about ab here":                          "nothing about ab here",
		"mail ada@example.com":                           "mail ada@example.com",
	}
	for in, want := range cases {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandlerMasksEverything(t *testing.T) {
	var buf bytes.Buffer
	r := New("s3cr3t-value")
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: r.ReplaceAttr})))
	log.With("url", "https://u:s3cr3t-value@h").Info("msg with s3cr3t-value",
		"err", errors.New("auth s3cr3t-value failed"), "list", []string{"s3cr3t-value"}, "plain", "s3cr3t-value")
	if strings.Contains(buf.String(), "s3cr3t-value") {
		t.Fatalf("secret leaked: %s", buf.String())
	}
	if !strings.Contains(buf.String(), Mask) {
		t.Fatalf("no mask in %s", buf.String())
	}
}
