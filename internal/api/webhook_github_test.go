package api

import (
	"bytes"
	"strings"
	"testing"
)

// githubCall is a GitHub delivery of payload as event, encoded as JSON or
// as a form, signed (X-Hub-Signature-256 over the body as sent) with
// secret unless it is empty.
func githubCall(event string, payload []byte, form bool, secret string) hookCall {
	c := hookCall{path: "/hooks/github", contentType: contentJSON, body: payload,
		header: map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}}
	if form {
		c.contentType, c.body = contentForm, formBody(payload)
	}
	if secret != "" {
		c.header["X-Hub-Signature-256"] = sign(secret, string(c.body))
	}
	return c
}

// TestGitHubFixtures posts GitHub's own example payloads (octokit/webhooks),
// JSON- and form-encoded, as GitHub signs them.
func TestGitHubFixtures(t *testing.T) {
	ping := payloadFile(t, "github/ping/payload.json")
	branch := payloadFile(t, "github/push/with-new-branch.payload.json") // refs/heads/master
	tag := payloadFile(t, "github/push/payload.json")                    // refs/tags/simple-tag
	for _, form := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "form"}[form], func(t *testing.T) {
			cases := []struct {
				name        string
				call        hookCall
				status      int
				field, want string
				triggered   bool
			}{
				{"ping", githubCall("ping", ping, form, ""), 200, "status", "pong", false},
				{"push to the tracked branch", githubCall("push", branch, form, helloSecret), 202, "status", "triggered", true},
				{"push of a tag", githubCall("push", tag, form, helloSecret), 202, "status", "ignored", false},
				{"push signed with another repo's secret", githubCall("push", branch, form, otherSecret), 202, "status", "ignored", false},
				{"push with a bad signature", githubCall("push", branch, form, "not-the-secret"), 401, "error", msgBadSignature, false},
				{"push unsigned", githubCall("push", branch, form, ""), 401, "error", msgBadSignature, false},
			}
			for _, c := range cases {
				h := newForgeHooks("master")
				a := post(t, h, c.call)
				if !a.is(c.status, c.field, c.want) {
					t.Errorf("%s: %d %s, want %d with %s %q", c.name, a.status, a.body, c.status, c.field, c.want)
				}
				trig, _ := h.calls()
				if got := len(trig) == 1 && trig[0] == "hello"; got != c.triggered || len(trig) > 1 {
					t.Errorf("%s: triggered %v, want hello triggered: %v", c.name, trig, c.triggered)
				}
			}
		})
	}

	// A form's signature covers the form body as sent: one over the JSON
	// it carries is refused.
	c := githubCall("push", branch, true, "")
	c.header["X-Hub-Signature-256"] = sign(helloSecret, string(branch))
	h := newForgeHooks("master")
	if a := post(t, h, c); !a.is(401, "error", msgBadSignature) {
		t.Errorf("form signed over its JSON: %d %s, want 401", a.status, a.body)
	}
	// A push to a branch the repo does not track is ignored.
	h = newForgeHooks("main")
	if a := post(t, h, githubCall("push", branch, false, helloSecret)); !a.is(202, "status", "ignored") {
		t.Errorf("push to another branch: %d %s, want 202 ignored", a.status, a.body)
	}
	if trig, _ := h.calls(); len(trig) != 0 {
		t.Errorf("push to another branch triggered %v", trig)
	}
}

// TestGitHubContentTypes: only JSON and forms are read; a form must carry
// the payload field.
func TestGitHubContentTypes(t *testing.T) {
	branch := payloadFile(t, "github/push/with-new-branch.payload.json")
	cases := []struct {
		name, contentType string
		body              []byte
		status            int
		errContains       string
	}{
		{"text/plain", "text/plain", branch, 415, "send application/json or application/x-www-form-urlencoded"},
		{"multipart", "multipart/form-data; boundary=x", branch, 415, "unsupported Content-Type \"multipart/form-data\""},
		{"unparsable", "application/json; =", branch, 415, "unreadable Content-Type"},
		{"form without payload", contentForm, []byte("ref=refs%2Fheads%2Fmaster"), 400, "form body has no payload field"},
		{"form with a bad escape", contentForm, []byte("payload=%zz"), 400, "invalid form body"},
		{"form of something else", contentForm, formBody([]byte("not json")), 400, "invalid push payload"},
		{"json with parameters", "application/json; charset=utf-8", branch, 202, ""},
		{"no Content-Type", "", branch, 202, ""},
	}
	for _, c := range cases {
		h := newForgeHooks("master")
		a := post(t, h, hookCall{path: "/hooks/github", contentType: c.contentType, body: c.body,
			header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(helloSecret, string(c.body))}})
		msg, _ := a.json["error"].(string)
		if a.status != c.status || !strings.Contains(msg, c.errContains) {
			t.Errorf("%s: %d %s, want %d with an error containing %q", c.name, a.status, a.body, c.status, c.errContains)
		}
	}
}

// wantPR is what the four fixtures tell of pull request 2 of
// Codertocat/Hello-World, besides its action.
var wantPR = PullRequestEvent{
	Repo: "hello", Number: 2, HeadSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", HeadRef: "changes",
	BaseRef: "master", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Fork: false,
	Title: "Update the README with new information.", URL: "https://github.com/Codertocat/Hello-World/pull/2",
	Author: "Codertocat", Delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
}

// TestGitHubPullRequestFixtures: each of GitHub's example pull_request
// payloads, signed by the watched repo's secret and sent JSON- and
// form-encoded, reaches PullRequest with what a preview needs, and is
// answered 202 "preview".
func TestGitHubPullRequestFixtures(t *testing.T) {
	for _, action := range []string{"opened", "synchronize", "reopened", "closed"} {
		payload := payloadFile(t, "github/pull_request/"+action+".payload.json")
		for _, form := range []bool{false, true} {
			h := newForgeHooks("master")
			a := post(t, h, githubCall("pull_request", payload, form, helloSecret))
			if !a.is(202, "status", "preview") || a.json["repo"] != "hello" || a.json["pr"] != float64(2) {
				t.Errorf("%s (form %v): %d %s, want 202 preview of hello #2", action, form, a.status, a.body)
			}
			trig, prs := h.calls()
			want := wantPR
			want.Action = action
			if len(prs) != 1 || prs[0] != want {
				t.Errorf("%s (form %v): PullRequest calls %+v, want [%+v]", action, form, prs, want)
			}
			if len(trig) != 0 {
				t.Errorf("%s: a pull request triggered a poll of %v", action, trig)
			}
		}
	}
}

// TestGitHubPullRequestIgnored: a pull request is dispatched only when
// signed by the base repo's own secret, with a handled action, into the
// tracked branch, to a target that previews.
func TestGitHubPullRequestIgnored(t *testing.T) {
	opened := payloadFile(t, "github/pull_request/opened.payload.json")
	labeled := bytes.Replace(opened, []byte(`"action": "opened"`), []byte(`"action": "labeled"`), 1)
	noBase := []byte(`{"action": "opened", "number": 2, "pull_request": {"number": 2, "base": {"ref": "master"}}}`)
	type target = WebhookTarget
	cases := []struct {
		name        string
		branch      string
		previews    bool
		plain       bool // the target does not implement PullRequestTarget
		call        hookCall
		status      int
		field, want string
		called      bool // PullRequest was called
	}{
		{"bad signature", "master", true, false, githubCall("pull_request", opened, false, "nope"), 401, "error", msgBadSignature, false},
		{"unsigned, form", "master", true, false, githubCall("pull_request", opened, true, ""), 401, "error", msgBadSignature, false},
		{"another repo's secret", "master", true, false, githubCall("pull_request", opened, false, otherSecret), 202, "status", "ignored", false},
		{"untracked base branch", "main", true, false, githubCall("pull_request", opened, false, helloSecret), 202, "status", "ignored", false},
		{"labeled", "master", true, false, githubCall("pull_request", labeled, false, helloSecret), 202, "status", "ignored", false},
		{"previews off for the repo", "master", false, false, githubCall("pull_request", opened, false, helloSecret), 202, "status", "ignored", true},
		{"target without previews", "master", true, true, githubCall("pull_request", opened, false, helloSecret), 202, "status", "ignored", false},
		{"no base repository", "master", true, false, githubCall("pull_request", noBase, false, helloSecret), 400, "error", "pull_request payload has no base repository or ref", false},
		{"not JSON", "master", true, false, githubCall("pull_request", []byte("{"), false, helloSecret), 400, "error", "invalid pull_request payload: unexpected end of JSON input", false},
	}
	for _, c := range cases {
		h := newForgeHooks(c.branch)
		h.previews = c.previews
		var tgt WebhookTarget = h
		if c.plain {
			tgt = struct{ target }{h}
		}
		a := post(t, tgt, c.call)
		if !a.is(c.status, c.field, c.want) {
			t.Errorf("%s: %d %s, want %d with %s %q", c.name, a.status, a.body, c.status, c.field, c.want)
		}
		if _, prs := h.calls(); (len(prs) == 1) != c.called || len(prs) > 1 {
			t.Errorf("%s: PullRequest calls %+v, want called: %v", c.name, prs, c.called)
		}
	}
}

// TestPullRequestFork: a head repository other than the base, or gone,
// makes the event a fork's.
func TestPullRequestFork(t *testing.T) {
	opened := string(payloadFile(t, "github/pull_request/opened.payload.json"))
	// The head repo is the first "repo" object: make it a fork's.
	head := strings.Replace(opened, `"full_name": "Codertocat/Hello-World"`, `"full_name": "mallory/Hello-World"`, 1)
	head = strings.Replace(head, `"id": 186853002`, `"id": 999`, 1)
	gone := strings.Replace(opened, `"repo": {`, `"repo": null, "was": {`, 1)
	for name, c := range map[string]struct {
		payload string
		fork    bool
	}{"same repo": {opened, false}, "other repo": {head, true}, "deleted fork": {gone, true}} {
		h := newForgeHooks("master")
		a := post(t, h, githubCall("pull_request", []byte(c.payload), false, helloSecret))
		_, prs := h.calls()
		if a.status != 202 || len(prs) != 1 || prs[0].Fork != c.fork {
			t.Errorf("%s: %d %s, calls %+v; want one with Fork %v", name, a.status, a.body, prs, c.fork)
		}
	}
	for _, c := range []struct {
		head, base githubRepo
		fork       bool
	}{
		{githubRepo{FullName: "a/b"}, githubRepo{FullName: "A/B"}, false},
		{githubRepo{FullName: "x/b"}, githubRepo{FullName: "a/b"}, true},
		{githubRepo{ID: 1, FullName: "renamed/b"}, githubRepo{ID: 1, FullName: "a/b"}, false},
	} {
		if got := isFork(&c.head, &c.base); got != c.fork {
			t.Errorf("isFork(%+v, %+v) = %v", c.head, c.base, got)
		}
	}
	if !isFork(nil, &githubRepo{ID: 1}) {
		t.Errorf("a deleted head repository is not a fork")
	}
}
