package sources

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// VerifyGitHubSignature reports whether header, the value of a GitHub
// webhook's X-Hub-Signature-256 ("sha256=<hex>"), is the HMAC-SHA256 of body
// under secret. The comparison is constant-time. It is false for an empty
// secret and for a missing or malformed header.
func VerifyGitHubSignature(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
