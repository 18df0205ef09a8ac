package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// gitlabCall is a GitLab delivery of payload as event with token.
func gitlabCall(event string, payload []byte, token string) hookCall {
	c := hookCall{path: "/hooks/gitlab", contentType: contentJSON, body: payload,
		header: map[string]string{"X-Gitlab-Event": event, "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e"}}
	if token != "" {
		c.header["X-Gitlab-Token"] = token
	}
	return c
}

// TestGitLabFixtures posts GitLab's documented push and tag push examples.
func TestGitLabFixtures(t *testing.T) {
	push := payloadFile(t, "gitlab/push.json") // mike/diaspora, refs/heads/master
	tag := payloadFile(t, "gitlab/tag_push.json")
	cases := []struct {
		name        string
		call        hookCall
		status      int
		field, want string
		triggered   bool
	}{
		{"push with the repo's token", gitlabCall("Push Hook", push, diasporaSecret), 202, "status", "triggered", true},
		{"push with another repo's token", gitlabCall("Push Hook", push, helloSecret), 202, "status", "ignored", false},
		{"push with a wrong token", gitlabCall("Push Hook", push, diasporaSecret+"x"), 401, "error", msgBadGitLabToken, false},
		{"push with a token prefix", gitlabCall("Push Hook", push, diasporaSecret[:5]), 401, "error", msgBadGitLabToken, false},
		{"push without a token", gitlabCall("Push Hook", push, ""), 401, "error", msgBadGitLabToken, false},
		{"tag push", gitlabCall("Tag Push Hook", tag, ""), 202, "status", "ignored", false},
		{"tag payload as a push", gitlabCall("Push Hook", tag, diasporaSecret), 202, "status", "ignored", false},
		{"system hook", gitlabCall("System Hook", push, diasporaSecret), 202, "status", "ignored", false},
		{"merge request", gitlabCall("Merge Request Hook", []byte(`{"object_kind":"merge_request"}`), diasporaSecret), 202, "status", "ignored", false},
		{"no event", gitlabCall("", push, diasporaSecret), 400, "error", "missing X-Gitlab-Event header", false},
		{"form", hookCall{path: "/hooks/gitlab", contentType: contentForm, body: formBody(push),
			header: map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": diasporaSecret}},
			415, "error", `unsupported Content-Type "application/x-www-form-urlencoded": send application/json`, false},
		{"not JSON", gitlabCall("Push Hook", []byte("{"), diasporaSecret), 400, "error", "invalid push payload: unexpected end of JSON input", false},
		{"no ref", gitlabCall("Push Hook", []byte(`{"project":{"git_http_url":"http://example.com/mike/diaspora.git"}}`), diasporaSecret),
			400, "error", "push payload has no repository URL or ref", false},
	}
	for _, c := range cases {
		h := newForgeHooks("master")
		a := post(t, h, c.call)
		if !a.is(c.status, c.field, c.want) {
			t.Errorf("%s: %d %s, want %d with %s %q", c.name, a.status, a.body, c.status, c.field, c.want)
		}
		trig, _ := h.calls()
		if got := len(trig) == 1 && trig[0] == "diaspora"; got != c.triggered || len(trig) > 1 {
			t.Errorf("%s: triggered %v, want diaspora triggered: %v", c.name, trig, c.triggered)
		}
	}
}

// TestGitLabURLs: each URL GitLab gives for the repository, alone, finds
// the watched repo.
func TestGitLabURLs(t *testing.T) {
	u := "http://example.com/mike/diaspora.git"
	for _, p := range []string{
		`{"project": {"git_http_url": %q}}`, `{"project": {"git_ssh_url": %q}}`, `{"project": {"web_url": %q}}`,
		`{"repository": {"git_http_url": %q}}`, `{"repository": {"git_ssh_url": %q}}`, `{"repository": {"homepage": %q}}`,
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(strings.Replace(p, "%q", `"`+u+`"`, 1)), &m); err != nil {
			t.Fatal(err)
		}
		m["ref"] = "refs/heads/master"
		body, _ := json.Marshal(m)
		h := newForgeHooks("master")
		if a := post(t, h, gitlabCall("Push Hook", body, diasporaSecret)); !a.is(202, "status", "triggered") {
			t.Errorf("%s: %d %s, want 202 triggered", body, a.status, a.body)
		}
	}
}

// giteaCall is a Gitea (or, with forgejo, Forgejo) push delivery of
// payload, JSON- or form-encoded, with signature sig.
func giteaCall(event string, payload []byte, form, forgejo bool, sig string) hookCall {
	prefix := "X-Gitea-"
	if forgejo {
		prefix = "X-Forgejo-"
	}
	c := hookCall{path: "/hooks/gitea", contentType: contentJSON, body: payload,
		header: map[string]string{prefix + "Event": event, prefix + "Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473"}}
	if form {
		c.contentType, c.body = contentForm, formBody(payload)
	}
	if sig != "" {
		c.header[prefix+"Signature"] = sig
	}
	return c
}

// TestGiteaFixture posts Gitea's documented push example as Gitea and
// Forgejo send it: JSON or form, signed (hex, no prefix) over the JSON.
func TestGiteaFixture(t *testing.T) {
	push := payloadFile(t, "gitea/push.json") // gitea/webhooks, refs/heads/develop
	good := hexHMAC(giteaSecret, push)
	cases := []struct {
		name        string
		call        hookCall
		status      int
		field, want string
		triggered   bool
	}{
		{"gitea json", giteaCall("push", push, false, false, good), 202, "status", "triggered", true},
		{"gitea form", giteaCall("push", push, true, false, good), 202, "status", "triggered", true},
		{"forgejo json", giteaCall("push", push, false, true, good), 202, "status", "triggered", true},
		{"forgejo form", giteaCall("push", push, true, true, good), 202, "status", "triggered", true},
		{"another repo's secret", giteaCall("push", push, false, false, hexHMAC(otherSecret, push)), 202, "status", "ignored", false},
		{"form signed over the form body", giteaCall("push", push, true, false, hexHMAC(giteaSecret, formBody(push))), 401, "error", msgBadGiteaSignature, false},
		{"GitHub-style prefix", giteaCall("push", push, false, false, "sha256="+good), 401, "error", msgBadGiteaSignature, false},
		{"upper-case hex", giteaCall("push", push, false, false, strings.ToUpper(good)), 202, "status", "triggered", true},
		{"wrong secret", giteaCall("push", push, false, false, hexHMAC("nope", push)), 401, "error", msgBadGiteaSignature, false},
		{"unsigned", giteaCall("push", push, false, false, ""), 401, "error", msgBadGiteaSignature, false},
		{"pull request", giteaCall("pull_request", []byte(`{"action":"opened"}`), false, false, ""), 202, "status", "ignored", false},
		{"no event", giteaCall("", push, false, false, good), 400, "error", "missing X-Gitea-Event (or X-Forgejo-Event) header", false},
		{"text/plain", hookCall{path: "/hooks/gitea", contentType: "text/plain", body: push,
			header: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": good}},
			415, "error", `unsupported Content-Type "text/plain": send application/json or application/x-www-form-urlencoded`, false},
	}
	for _, c := range cases {
		h := newForgeHooks("master")
		a := post(t, h, c.call)
		if !a.is(c.status, c.field, c.want) {
			t.Errorf("%s: %d %s, want %d with %s %q", c.name, a.status, a.body, c.status, c.field, c.want)
		}
		trig, _ := h.calls()
		if got := len(trig) == 1 && trig[0] == "webhooks"; got != c.triggered || len(trig) > 1 {
			t.Errorf("%s: triggered %v, want webhooks triggered: %v", c.name, trig, c.triggered)
		}
	}
}

// TestForgesRefuseAlike: on every endpoint, an unauthenticated push gets
// the same answer whether the repository and branch it names are watched
// or not, and 403 when no repo has a secret.
func TestForgesRefuseAlike(t *testing.T) {
	watchedGH := payloadFile(t, "github/push/with-new-branch.payload.json")
	unwatchedGH := []byte(`{"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/acme/secret-project.git"}}`)
	watchedGL := payloadFile(t, "gitlab/push.json")
	unwatchedGL := []byte(`{"ref": "refs/heads/main", "project": {"git_http_url": "https://gitlab.com/acme/secret-project.git"}}`)
	watchedGT := payloadFile(t, "gitea/push.json")
	for _, c := range []struct {
		name     string
		watched  hookCall
		unwatchd hookCall
	}{
		{"github", githubCall("push", watchedGH, false, "bad"), githubCall("push", unwatchedGH, true, "bad")},
		{"gitlab", gitlabCall("Push Hook", watchedGL, "bad"), gitlabCall("Push Hook", unwatchedGL, "")},
		{"gitea", giteaCall("push", watchedGT, false, false, hexHMAC("bad", watchedGT)), giteaCall("push", unwatchedGH, false, true, "")},
	} {
		a := post(t, newForgeHooks("master"), c.watched)
		b := post(t, newForgeHooks("master"), c.unwatchd)
		if a.status != 401 || a.body != b.body || a.status != b.status {
			t.Errorf("%s: answers differ: %d %q and %d %q, want the same 401", c.name, a.status, a.body, b.status, b.body)
		}
		none := &forgeHooks{}
		a, b = post(t, none, c.watched), post(t, none, c.unwatchd)
		if !a.is(403, "error", msgNoSecrets) || a.body != b.body {
			t.Errorf("%s without secrets: %d %q and %d %q, want the same 403", c.name, a.status, a.body, b.status, b.body)
		}
	}
}

// TestTokenMatches: a GitLab token is the secret, all of it, never empty.
func TestTokenMatches(t *testing.T) {
	for _, c := range []struct {
		secret, token string
		ok            bool
	}{{"s3cr3t", "s3cr3t", true}, {"s3cr3t", "s3cr3", false}, {"s3cr3t", "s3cr3tt", false}, {"", "", false}, {"s3cr3t", "", false}} {
		if got := tokenMatches([]byte(c.secret), c.token); got != c.ok {
			t.Errorf("tokenMatches(%q, %q) = %v", c.secret, c.token, got)
		}
	}
}
