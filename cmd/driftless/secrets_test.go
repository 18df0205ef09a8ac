package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/redact"
	"github.com/driftless/driftless/internal/testenv"
)

// slackPosts records what reached the fake Slack's chat.postMessage and
// chat.update (their form values, the token field left out).
type slackPosts struct {
	mu    sync.Mutex
	forms []string
	seq   int
}

func (p *slackPosts) handler(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := url.Values{}
	for k, v := range r.PostForm {
		if k != "token" {
			form[k] = v
		}
	}
	p.mu.Lock()
	p.seq++
	ts := fmt.Sprintf("1700000000.%06d", p.seq)
	p.forms = append(p.forms, form.Encode())
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "CDEPLOYS", "ts": r.PostForm.Get("ts") + ts})
}

func (p *slackPosts) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.forms...)
}

// gitAuthProxy fronts a smart-HTTP Git server and lets through only
// requests carrying token as the Basic password.
func gitAuthProxy(t *testing.T, target, token string) (srvURL string, ok, refused *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	ok, refused = &atomic.Int64{}, &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, has := r.BasicAuth(); !has || pw != token {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		ok.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ok, refused
}

// TestE2ESecretsNeverLeak runs a daemon configured with secrets everywhere
// (API token, Git token, webhook secret, Slack token, Terraform env) through
// a deploy, a failing deploy that prints a secret, an authentication failure
// and a bad webhook, then looks for the secret values in the logs, every
// event, every API response and every Slack message.
func TestE2ESecretsNeverLeak(t *testing.T) {
	testenv.Short(t)
	secrets := map[string]string{
		"DRIFTLESS_API_TOKEN": "dl-api-SECRET-5f0c2b7e91",
		"GIT_TOKEN":           "ghp_SECRETgitTOKEN0123456789abcdefXYZ",
		"WRONG_GIT_TOKEN":     "ghp_SECRETwrongTOKEN9876543210fedcbaQ",
		"HOOK_SECRET":         "whsec-SECRET-hook-31a9c4",
		"SLACK_TOKEN":         "xoxb-SECRET-slack-4242-abcdef",
		"TF_SECRET":           "tf-env-SECRET-value-8d1e6f",
	}

	g, _ := newStacksRepo(t)
	g.Write("deploy/leaky.hcl", "stack \"leaky\" {\n  path = \"infra/leaky\"\n}\n")
	// A stack that prints the secret Terraform got in its environment, then
	// fails: the error must reach events and logs masked.
	g.Write("infra/leaky/main.tf", `resource "terraform_data" "leak" {
  provisioner "local-exec" {
    command = "echo the key is $AWS_SECRET_ACCESS_KEY; exit 1"
  }
}
`)
	rev := g.Commit("Initial platform with a leaky stack")
	gitURL := testenv.StartGitHTTP(t, filepath.Dir(g.Dir)).URL
	proxyURL, authOK, authRefused := gitAuthProxy(t, gitURL, secrets["GIT_TOKEN"])

	posts := &slackPosts{}
	slackSrv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", posts.handler)
		c.Handle("/chat.update", posts.handler)
	})
	slackSrv.Start()
	t.Cleanup(slackSrv.Stop)

	dir := t.TempDir()
	extra := fmt.Sprintf(`
slack {
  token   = env("SLACK_TOKEN")
  api_url = %q
  route {
    events  = ["*"]
    channel = "#deploys"
  }
}

repo "other" {
  url      = %q
  interval = "1s"
  auth {
    token = env("WRONG_GIT_TOKEN")
  }
}
`, slackSrv.GetAPIURL(), proxyURL+"/other.git")
	cfgText := daemonConfig(t, filepath.Join(dir, "state"), proxyURL+"/"+filepath.Base(g.Dir), extra)
	cfgText = strings.Replace(cfgText, "  drift_interval = \"0\"\n", `  drift_interval = "0"
  webhook_secret = env("HOOK_SECRET")
  auth {
    token = env("GIT_TOKEN")
  }
`, 1)
	cfgText = strings.Replace(cfgText, "terraform {\n", `terraform {
  env = {
    AWS_SECRET_ACCESS_KEY = env("TF_SECRET")
    TF_VAR_secret         = env("TF_SECRET")
  }
`, 1)
	cfgPath := writeFile(t, dir, "driftless.hcl", cfgText)
	h := startE2E(t, cfgPath, secrets)

	h.waitSynced(rev, "platform/network", "platform/app")
	h.waitFor(90*time.Second, "leaky to fail and other to fail polling", func() bool {
		evs := h.events()
		return len(filter(evs, "deploy.failed", "platform/leaky")) > 0 && len(filter(evs, "source.failed", "other")) > 0
	})
	if authOK.Load() == 0 || authRefused.Load() == 0 {
		t.Fatalf("the Git server saw %d authorised and %d refused requests; want both", authOK.Load(), authRefused.Load())
	}
	evs := h.events()
	failed := filter(evs, "deploy.failed", "platform/leaky")[0]
	// Masked by the daemon's one redactor ("[redacted]"; the Terraform
	// applier once had its own "(redacted)").
	if !regexp.MustCompile(`the key is [\[(]redacted[\])]`).MatchString(failed.Data.Error) {
		t.Errorf("deploy.failed error = %q, want the stack's output with the secret masked", failed.Data.Error)
	}
	if e := filter(evs, "source.failed", "other")[0].Data.Error; e == "" {
		t.Errorf("source.failed without an error")
	}
	// A webhook with a wrong signature, and mutating calls with bad tokens.
	req, _ := http.NewRequest(http.MethodPost, h.base+"/hooks/github", strings.NewReader(`{"ref":"refs/heads/main"}`))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	h.do(http.MethodPost, "/api/v1/apps/platform/app/reconcile", "not-the-token", strings.NewReader(`{}`))
	h.do(http.MethodPost, "/api/v1/apps/platform/app/reconcile", secrets["GIT_TOKEN"], strings.NewReader(`{}`))
	// Slack got the deploys and the failure.
	h.waitFor(90*time.Second, "Slack messages", func() bool {
		n := 0
		for _, f := range posts.all() {
			if strings.Contains(f, "leaky") {
				n++
			}
		}
		return n > 0 && len(posts.all()) >= 4
	})

	// Collect everything that left the daemon.
	var out []string
	add := func(what string, b []byte) { out = append(out, what+":\n"+string(b)) }
	for _, ev := range h.events() {
		b, _ := json.Marshal(ev)
		add("event "+eventType(ev), b)
	}
	for _, p := range []string{"/api/v1/apps", "/api/v1/apps/platform/leaky", "/api/v1/apps/platform/leaky/history",
		"/api/v1/apps/other/x", "/api/v1/events", "/metrics", "/", "/apps/platform/leaky", "/readyz", "/healthz"} {
		_, b := h.get(p)
		add("GET "+p, b)
	}
	for _, f := range posts.all() {
		add("slack", []byte(f))
	}
	h.stop()
	add("log", []byte(h.logs.String()))

	if !regexp.MustCompile(`the key is [\[(]redacted[\])]`).MatchString(h.logs.String()) {
		t.Errorf("the log masks nothing: the leaky stack's output should have been masked")
	}
	for name, secret := range secrets {
		for _, o := range out {
			if i := strings.Index(o, secret); i >= 0 {
				what, _, _ := strings.Cut(o, ":\n")
				lo, hi := max(0, i-200), min(len(o), i+len(secret)+100)
				t.Errorf("secret %s leaked in %s: …%s…", name, what, o[lo:hi])
			}
		}
	}
}

// TestNewRedactorKnowsEverySecret checks that the daemon's one redactor is
// fed every secret of the config, the credentials in its URLs, every
// terraform.env value whatever its name, and the AWS credentials of the
// environment.
func TestNewRedactorKnowsEverySecret(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-env-SECRET-1")
	t.Setenv("AWS_SESSION_TOKEN", "aws-env-SESSION-2")
	cfg := &config.Config{
		APIToken: "api-SECRET-3",
		NATS:     config.NATSConfig{URL: "nats://natsuser:nats-PASS-4@h1:4222,nats://tok-SECRET-5@h2:4222"},
		Terraform: config.TerraformConfig{Env: config.EnvVars{
			"DB_PASS": "db-PASS-6", "MYSQL_PWD": "mysql-PWD-7", "DATABASE_URL": "postgres://u:db-url-PASS-8@db/x"}},
		Repos: []config.RepoConfig{{Name: "p", URL: "https://bot:repo-url-PASS-9@git.example.test/p.git",
			Auth: config.AuthConfig{Token: "ghp_SECRET-10"}, WebhookSecret: "hook-SECRET-11"}},
	}
	red := newRedactor(cfg)
	for _, s := range []string{"aws-env-SECRET-1", "aws-env-SESSION-2", "api-SECRET-3", "nats-PASS-4", "tok-SECRET-5",
		"db-PASS-6", "mysql-PWD-7", "postgres://u:db-url-PASS-8@db/x", "db-url-PASS-8", "repo-url-PASS-9", "ghp_SECRET-10", "hook-SECRET-11"} {
		if got := red.String("<" + s + ">"); got != "<"+redact.Mask+">" {
			t.Errorf("the daemon's redactor does not mask %q: %q", s, got)
		}
	}
}
