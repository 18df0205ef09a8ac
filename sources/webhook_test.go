package sources

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestVerifyGitHubSignature(t *testing.T) {
	secret := []byte("It's a Secret to Everybody")
	body := []byte("Hello, World!")
	// The example from GitHub's "Validating webhook deliveries" page.
	const githubExample = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	sign := func(secret, body []byte) string {
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"github documented example", secret, body, githubExample, true},
		{"computed", []byte("s3cret"), []byte(`{"ref":"refs/heads/main"}`), sign([]byte("s3cret"), []byte(`{"ref":"refs/heads/main"}`)), true},
		{"uppercase hex", secret, body, "sha256=" + strings.ToUpper(githubExample[7:]), true},
		{"wrong secret", []byte("other"), body, githubExample, false},
		{"tampered body", secret, []byte("Hello, World?"), githubExample, false},
		{"empty secret", nil, body, sign(nil, body), false},
		{"empty header", secret, body, "", false},
		{"sha1 header", secret, body, "sha1=" + githubExample[7:47], false},
		{"no prefix", secret, body, githubExample[7:], false},
		{"bad hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"truncated", secret, body, githubExample[:len(githubExample)-2], false},
		{"too long", secret, body, githubExample + "00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyGitHubSignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("VerifyGitHubSignature = %v, want %v", got, tt.want)
			}
		})
	}
}
