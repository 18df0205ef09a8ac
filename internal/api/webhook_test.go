package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/driftless/driftless/internal/config"
)

// TestWebhookSignatureFirst: a push without a valid signature gets the same
// answer, status and body, whether the repository and branch it names are
// watched or not, so an unauthenticated caller learns nothing about them.
func TestWebhookSignatureFirst(t *testing.T) {
	push := func(url, ref string) string {
		return fmt.Sprintf(`{"ref": %q, "repository": {"clone_url": %q}}`, ref, url)
	}
	targets := map[string]string{
		"watched":               push("https://github.com/acme/platform.git", "refs/heads/main"),
		"watched, other branch": push("https://github.com/acme/platform.git", "refs/heads/dev"),
		"watched, no secret":    push("https://github.com/acme/nosecret.git", "refs/heads/main"),
		"unwatched":             push("https://github.com/acme/other.git", "refs/heads/main"),
	}
	sigs := map[string]func(body string) string{
		"missing":        func(string) string { return "" },
		"wrong secret":   func(b string) string { return sign("not-the-secret", b) },
		"malformed":      func(string) string { return "sha256=zz" },
		"other body":     func(b string) string { return sign("whsec-s3cr3t", b+"\n") },
		"sha1":           func(string) string { return "sha1=" + strings.Repeat("0", 40) },
		"empty-key hmac": func(b string) string { return sign("", b) },
	}
	f := newFixture(t, testToken)
	var first *resp
	for tname, body := range targets {
		for sname, sig := range sigs {
			hdr := map[string]string{"X-GitHub-Event": "push", "Content-Type": "application/json"}
			if s := sig(body); s != "" {
				hdr["X-Hub-Signature-256"] = s
			}
			r := f.do(t, "POST", "/hooks/github", "", body, hdr)
			if r.status != http.StatusUnauthorized || errorOf(t, r) != msgBadSignature {
				t.Errorf("%s, %s signature: %d %q, want 401 %q", tname, sname, r.status, r.body, msgBadSignature)
			}
			if first == nil {
				first = &r
			} else if r.body != first.body || r.header.Get("Content-Type") != first.header.Get("Content-Type") || r.header.Get("WWW-Authenticate") != first.header.Get("WWW-Authenticate") {
				t.Errorf("%s, %s signature: answer %q differs from %q", tname, sname, r.body, first.body)
			}
		}
	}
	if got := f.hooks.trig(); len(got) != 0 {
		t.Errorf("triggered %v without a valid signature", got)
	}
	if strings.Contains(f.logs.String(), "platform") {
		t.Errorf("rejected pushes logged the repo they name:\n%s", f.logs.String())
	}
}

// TestWebhookNoSecrets: with no webhook_secret anywhere every push gets the
// same 403, whatever it names.
func TestWebhookNoSecrets(t *testing.T) {
	h := &fakeHooks{secrets: map[string]string{}, urls: map[string]string{"https://github.com/acme/platform.git": "platform"}, branch: "main"}
	srv := httptest.NewServer(New(&fakeController{}, h, config.Secret(testToken), nil, nil).Handler())
	t.Cleanup(srv.Close)
	var bodies []string
	for _, u := range []string{"https://github.com/acme/platform.git", "https://github.com/acme/other.git"} {
		body := fmt.Sprintf(`{"ref": "refs/heads/main", "repository": {"clone_url": %q}}`, u)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/github", strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", sign("", body))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 512)
		n, _ := res.Body.Read(b)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("push for %s = %d %s, want 403", u, res.StatusCode, b[:n])
		}
		bodies = append(bodies, string(b[:n]))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], "no repo has a webhook_secret") {
		t.Errorf("answers differ or do not explain: %q", bodies)
	}
	if len(h.trig()) != 0 {
		t.Errorf("triggered")
	}
}
