package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// designExample is the original design's example controller config, verbatim.
const designExample = `state_dir = "/var/lib/driftless"   # embedded NATS store, Terraform work dirs, caches
listen    = "127.0.0.1:8080"       # HTTP: API, webhooks, /metrics, /healthz, /readyz, status page
api_token = env("DRIFTLESS_API_TOKEN")   # required for every mutating API call

nats {
  url = env("NATS_URL")            # empty or absent: embedded server; a cluster as
}                                  # "nats://a:4222,nats://b:4222,nats://c:4222"

aws {
  region   = "us-east-1"
  endpoint = "http://127.0.0.1:5000"   # optional: an AWS-compatible emulator; also handed
}                                      # to Terraform as AWS_ENDPOINT_URL

terraform {
  binary        = "/usr/bin/terraform"         # default: found on PATH
  plugin_mirror = "/srv/terraform/providers"   # optional provider mirror (air-gapped hosts)
  max_parallel  = 4                            # stacks planned/applied at once
  env           = { TF_LOG = "" }              # added to Terraform's environment
}

slack {
  token   = env("SLACK_BOT_TOKEN")
  api_url = "https://slack.com/api/"    # optional: a Slack-compatible endpoint
  route {
    events  = ["deploy.*", "rollback.*"]
    channel = "#deploys"
  }
  route {
    events  = ["drift.*"]
    channel = "#infra-drift"
  }
}

repo "platform" {
  url      = "https://github.com/acme/platform.git"   # https, ssh, or a local path
  branch   = "main"
  path     = "deploy"             # where the manifests live in the repo (default: root)
  interval = "1m"                 # poll interval
  auth { token = env("GIT_TOKEN") }      # or ssh_key_file = "...", known_hosts_file = "..."
  webhook_secret = env("GITHUB_WEBHOOK_SECRET")
  drift_interval = "15m"
}
`

var testEnv = map[string]string{
	"DRIFTLESS_API_TOKEN":   "tok-api-s3cr3t",
	"NATS_URL":              "nats://user:natspw-s3cr3t@nats.example:4222",
	"SLACK_BOT_TOKEN":       "xoxb-slack-s3cr3t",
	"GIT_TOKEN":             "ghp-git-s3cr3t",
	"GITHUB_WEBHOOK_SECRET": "whsec-s3cr3t",
}

var secretValues = []string{"tok-api-s3cr3t", "natspw-s3cr3t", "xoxb-slack-s3cr3t", "ghp-git-s3cr3t", "whsec-s3cr3t", "tfvar-s3cr3t"}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeConfig writes src as driftless.hcl in a fresh directory.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "driftless.hcl")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDesignExample(t *testing.T) {
	cfg, err := Parse([]byte(designExample), "/etc/driftless/driftless.hcl", getenv(testEnv))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"state_dir", cfg.StateDir, "/var/lib/driftless"},
		{"listen", cfg.Listen, "127.0.0.1:8080"},
		{"api_token", cfg.APIToken.Value(), "tok-api-s3cr3t"},
		{"nats.url", cfg.NATS.URL.Value(), testEnv["NATS_URL"]},
		{"nats.replicas", cfg.NATS.Replicas, 1},
		{"aws.region", cfg.AWS.Region, "us-east-1"},
		{"aws.endpoint", cfg.AWS.Endpoint, "http://127.0.0.1:5000"},
		{"terraform.binary", cfg.Terraform.Binary, "/usr/bin/terraform"},
		{"terraform.plugin_mirror", cfg.Terraform.PluginMirror, "/srv/terraform/providers"},
		{"terraform.max_parallel", cfg.Terraform.MaxParallel, 4},
		{"terraform.env", fmt.Sprint(map[string]string(cfg.Terraform.Env)), "map[TF_LOG:]"},
		{"slack.token", cfg.Slack.Token.Value(), "xoxb-slack-s3cr3t"},
		{"slack.api_url", cfg.Slack.APIURL, "https://slack.com/api/"},
		{"routes", len(cfg.Slack.Routes), 2},
		{"route0.events", strings.Join(cfg.Slack.Routes[0].Events, ","), "deploy.*,rollback.*"},
		{"route0.channel", cfg.Slack.Routes[0].Channel, "#deploys"},
		{"route1.channel", cfg.Slack.Routes[1].Channel, "#infra-drift"},
		{"repos", len(cfg.Repos), 1},
		{"repo.name", cfg.Repos[0].Name, "platform"},
		{"repo.url", cfg.Repos[0].URL, "https://github.com/acme/platform.git"},
		{"repo.transport", cfg.Repos[0].Transport(), "https"},
		{"repo.branch", cfg.Repos[0].Branch, "main"},
		{"repo.path", cfg.Repos[0].Path, "deploy"},
		{"repo.interval", cfg.Repos[0].Interval, time.Minute},
		{"repo.token", cfg.Repos[0].Auth.Token.Value(), "ghp-git-s3cr3t"},
		{"repo.webhook_secret", cfg.Repos[0].WebhookSecret.Value(), "whsec-s3cr3t"},
		{"repo.drift_interval", cfg.Repos[0].DriftInterval, 15 * time.Minute},
		{"repo.def_range", fmt.Sprintf("%d:%d", cfg.Repos[0].DefRange.Start.Line, cfg.Repos[0].DefRange.Start.Column), "34:1"},
		{"file", cfg.File, "/etc/driftless/driftless.hcl"},
		{"dir", cfg.Dir, "/etc/driftless"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if !cfg.Slack.Routes[0].Matches("deploy", "succeeded") || cfg.Slack.Routes[0].Matches("drift", "detected") {
		t.Errorf("route 0 matching is wrong")
	}
}

func TestDesignExampleWithoutEnv(t *testing.T) {
	// No variables set: the optional settings are empty, but slack.token is
	// required.
	_, err := Parse([]byte(designExample), "driftless.hcl", getenv(nil))
	var de *DiagnosticsError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want *DiagnosticsError", err)
	}
	if got, want := err.Error(), `driftless.hcl:22:13: Empty value: The argument "token" must not be empty (is an environment variable unset?).`; got != want {
		t.Errorf("error:\n got %s\nwant %s", got, want)
	}
}

func TestDefaults(t *testing.T) {
	p := writeConfig(t, `repo "app" {
  url = "../remote.git"
}
`)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	host, _ := os.Hostname()
	r := cfg.Repos[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"state_dir", cfg.StateDir, filepath.Join(dir, ".driftless")},
		{"listen", cfg.Listen, DefaultListen},
		{"api_token", cfg.APIToken.IsSet(), false},
		{"instance", strings.TrimRight(cfg.Instance, "0123456789abcdef"), hostPart(host) + "-"},
		{"instance suffix", len(cfg.Instance) - len(hostPart(host)), 7},
		{"nats.sync_interval", cfg.NATS.SyncInterval, time.Duration(0)},
		{"nats.listen", cfg.NATS.Listen, ""},
		{"nats.url", cfg.NATS.URL.IsSet(), false},
		{"nats.replicas", cfg.NATS.Replicas, 1},
		{"terraform.binary", cfg.Terraform.Binary, ""},
		{"terraform.max_parallel", cfg.Terraform.MaxParallel, 4},
		{"slack", cfg.Slack == nil, true},
		{"url", r.URL, filepath.Join(filepath.Dir(dir), "remote.git")},
		{"transport", r.Transport(), "file"},
		{"branch", r.Branch, "main"},
		{"path", r.Path, ""},
		{"interval", r.Interval, time.Minute},
		{"drift_interval", r.DriftInterval, 15 * time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestFunctionsAndPaths(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "secrets", "token"), []byte("file-token\n\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "id_ed25519"), []byte("key"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("hosts"), 0o600))
	src := `
state_dir = "state"
instance  = lower(format("Replica-%d", tonumber("2")))
api_token = file("secrets/token")
listen    = coalesce(env("UNSET_LISTEN"), ":9090")
nats {
  url      = "nats://a:4222, nats://b:4222"
  replicas = 3
}
terraform {
  binary = "bin/terraform"
  env    = { TF_VAR_password = "tfvar-s3cr3t" }
}
repo "ssh-repo" {
  url            = "git@github.com:acme/infra.git"
  interval       = "90s"
  drift_interval = "0"
  auth {
    ssh_key_file     = "id_ed25519"
    known_hosts_file = "known_hosts"
  }
}
repo "ssh2" {
  url = "ssh://git@example.com:2222/acme/infra.git"
}
repo "file_url" {
  url  = "file:///srv/git/x.git"
  path = "./deploy/prod/"
}
`
	p := filepath.Join(dir, "driftless.hcl")
	must(os.WriteFile(p, []byte(src), 0o600))
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"state_dir", cfg.StateDir, filepath.Join(dir, "state")},
		{"instance", cfg.Instance, "replica-2"},
		{"api_token", cfg.APIToken.Value(), "file-token"},
		{"listen", cfg.Listen, ":9090"},
		{"nats.replicas", cfg.NATS.Replicas, 3},
		{"terraform.binary", cfg.Terraform.Binary, filepath.Join(dir, "bin/terraform")},
		{"terraform.env", cfg.Terraform.Env["TF_VAR_password"], "tfvar-s3cr3t"},
		{"ssh.transport", cfg.Repos[0].Transport(), "ssh"},
		{"ssh.interval", cfg.Repos[0].Interval, 90 * time.Second},
		{"ssh.drift_interval", cfg.Repos[0].DriftInterval, time.Duration(0)},
		{"ssh.key", cfg.Repos[0].Auth.SSHKeyFile, filepath.Join(dir, "id_ed25519")},
		{"ssh.known_hosts", cfg.Repos[0].Auth.KnownHostsFile, filepath.Join(dir, "known_hosts")},
		{"ssh2.transport", cfg.Repos[1].Transport(), "ssh"},
		{"file.transport", cfg.Repos[2].Transport(), "file"},
		{"file.path", cfg.Repos[2].Path, "deploy/prod"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestJSONSyntax(t *testing.T) {
	src := `{
  "listen": "127.0.0.1:9999",
  "api_token": "${env(\"DRIFTLESS_API_TOKEN\")}",
  "repo": {"platform": {"url": "https://example.com/p.git", "interval": "2m"}}
}`
	cfg, err := Parse([]byte(src), "driftless.hcl.json", getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.APIToken.Value() != "tok-api-s3cr3t" || len(cfg.Repos) != 1 || cfg.Repos[0].Interval != 2*time.Minute {
		t.Fatalf("cfg = %+v", cfg)
	}
	_, err = Parse([]byte(`{"repo": {"a": {"url": "https://x/a", "interval": "soon"}}}`), "c.json", getenv(nil))
	if err == nil || !strings.HasPrefix(err.Error(), `c.json:1:51: Invalid duration: "soon"`) {
		t.Fatalf("err = %v", err)
	}
}
