package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// giteaHook receives Gitea and Forgejo webhooks, sent as application/json
// or as application/x-www-form-urlencoded with the JSON in the "payload"
// field (another Content-Type: 415). "X-Gitea-Event: push" (Forgejo:
// X-Forgejo-Event) is handled as a GitHub push is: its X-Gitea-Signature
// (Forgejo: X-Forgejo-Signature), the hex HMAC-SHA256 of the JSON payload
// with no "sha256=" prefix — Gitea signs the JSON even when it sends a
// form — is checked against every configured webhook_secret (401
// otherwise, the same whatever the payload names), then ref and
// repository.clone_url, ssh_url and html_url are matched to a watched repo
// and branch whose own secret signed it: 202 "triggered". Other events
// (pull_request…) are answered 202 "ignored".
func (s *Server) giteaHook(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readHook(w, r)
	if !ok {
		return
	}
	payload, ok := hookPayload(w, r, body, true)
	if !ok {
		return
	}
	switch event := firstHeader(r, "X-Gitea-Event", "X-Forgejo-Event"); event {
	case "push":
	case "":
		writeError(w, http.StatusBadRequest, "missing X-Gitea-Event (or X-Forgejo-Event) header")
		return
	default:
		ignoreEvent(w, event)
		return
	}
	var p githubPush // Gitea's push payload names the repository as GitHub's does
	if err := json.Unmarshal(payload, &p); err != nil {
		writeError(w, http.StatusBadRequest, "invalid push payload: "+err.Error())
		return
	}
	sig := firstHeader(r, "X-Gitea-Signature", "X-Forgejo-Signature")
	d, ok := s.authenticate(w, hookAuth{forge: "gitea", delivery: firstHeader(r, "X-Gitea-Delivery", "X-Forgejo-Delivery"),
		refusal: msgBadGiteaSignature, verify: func(secret []byte) bool { return verifyHexHMAC(secret, payload, sig) }})
	if !ok {
		return
	}
	s.triggerPush(w, d, pushEvent{ref: p.Ref, urls: p.Repository.urls()})
}

// verifyHexHMAC reports whether sig is the hex HMAC-SHA256 of msg under
// secret, comparing in constant time. It is false for an empty secret and
// a malformed sig.
func verifyHexHMAC(secret, msg []byte, sig string) bool {
	if len(secret) == 0 || len(sig) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(msg)
	return hmac.Equal(got, mac.Sum(nil))
}

// firstHeader is the first of the named headers r has.
func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}
