package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Defaults of optional settings.
const (
	DefaultFile          = "driftless.hcl"
	DefaultStateDir      = ".driftless" // relative to the config file's directory
	DefaultListen        = "127.0.0.1:8080"
	DefaultBranch        = "main"
	DefaultInterval      = time.Minute
	MinInterval          = time.Second
	DefaultDriftInterval = 15 * time.Minute
	DefaultMaxParallel   = 4
	DefaultNATSReplicas  = 1
	DefaultLeaseTTL      = 15 * time.Second
)

// Config is the controller configuration (the README's config reference).
type Config struct {
	// File is the config file as given to Load; Dir is its absolute
	// directory, against which relative paths were resolved.
	File string `json:"file"`
	Dir  string `json:"dir"`

	// StateDir holds the embedded NATS store, Terraform work dirs and caches.
	// Default: ".driftless" next to the config file. Always absolute.
	StateDir string `json:"state_dir"`
	// Listen is the HTTP address (host:port). Default "127.0.0.1:8080".
	Listen string `json:"listen"`
	// ExternalURL is the URL the API is reached at through a proxy or a
	// DNS name (e.g. "https://driftless.example.com"); its host is accepted
	// in the Host header besides the listen address and localhost. Empty:
	// none.
	ExternalURL string `json:"external_url,omitempty"`
	// APIToken authorises mutating API calls; empty means they are refused.
	APIToken Secret `json:"api_token"`
	// Instance is this replica's display name (CloudEvents source
	// driftless/<instance>, logs, the NATS connection name). Default:
	// "<hostname>-<6 random hex>", different for every process. Two
	// processes may be configured with the same name: leases and in-flight
	// markers use Holder, never Instance.
	Instance string `json:"instance"`
	// DriftReminder re-announces a drift still open after this long
	// (drift.detected again, transition "reminder"). 0: never.
	DriftReminder time.Duration `json:"drift_reminder"`
	// LeaseTTL is how long a replica's leases outlive it: a replica whose
	// renewals fail for half of it stops its work, and another takes over
	// after it (plus a short grace period).
	LeaseTTL time.Duration `json:"lease_ttl"`

	NATS      NATSConfig      `json:"nats"`
	AWS       AWSConfig       `json:"aws"`
	Terraform TerraformConfig `json:"terraform"`
	// Slack is nil when there is no slack block.
	Slack *SlackConfig `json:"slack,omitempty"`
	// GitHub is the forge API (plan previews, deployments, drift pull
	// requests); nil when there is no github block.
	GitHub *GitHubConfig `json:"github,omitempty"`
	// Repos has at least one entry, in file order, names unique.
	Repos []RepoConfig `json:"repos"`

	// holder is set by Parse; see Holder.
	holder string
}

// NATSConfig is the nats block.
type NATSConfig struct {
	// URL is empty for the embedded server, else one or more comma-separated
	// server URLs. It may embed credentials, hence a Secret.
	URL Secret `json:"url"`
	// Replicas is the replication factor of the stream and KV buckets on
	// an external cluster (1..5). Default 1.
	Replicas int `json:"replicas"`

	// The settings below apply to the embedded server only (URL empty).

	// SyncInterval is how often the embedded JetStream fsyncs. 0 (the
	// default): every write, before it is acknowledged.
	SyncInterval time.Duration `json:"sync_interval"`
	// Listen is an optional TCP listener (host:port) on the embedded server
	// for external tools; empty (the default): no TCP listener, the daemon
	// connects in-process. A listener requires User and Password, or Token.
	Listen   string `json:"listen"`
	User     string `json:"user"`
	Password Secret `json:"password"`
	Token    Secret `json:"token"`
}

// AWSConfig is the aws block; empty fields mean the SDK's defaults.
type AWSConfig struct {
	Region   string `json:"region"`
	Endpoint string `json:"endpoint"` // http(s) URL of an AWS-compatible emulator
}

// TerraformConfig is the terraform block.
type TerraformConfig struct {
	// Binary is the terraform executable; empty: found on PATH. A value with
	// a path separator is resolved against the config file's directory.
	Binary string `json:"binary"`
	// PluginMirror is a provider mirror directory (absolute), or empty.
	PluginMirror string `json:"plugin_mirror"`
	// MaxParallel bounds stacks planned/applied at once. Default 4.
	MaxParallel int `json:"max_parallel"`
	// Env is added to Terraform's environment. Values are redacted when
	// printed.
	Env EnvVars `json:"env"`
	// RunAs is the Unix user every Terraform process runs as; nil: the
	// daemon's own user. Setting it requires the daemon to run as root.
	RunAs *UnixUser `json:"run_as,omitempty"`
}

// UnixUser is a user resolved (os/user) when the config was loaded.
type UnixUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"` // primary group
	Home string `json:"home"`
}

// SlackConfig is the slack block.
type SlackConfig struct {
	Token  Secret  `json:"token"`
	APIURL string  `json:"api_url"` // empty: slack-go's default (https://slack.com/api/)
	Routes []Route `json:"routes"`
}

// RepoConfig is one repo block.
type RepoConfig struct {
	// Name is the block label, [a-z0-9][a-z0-9_-]*.
	Name string `json:"name"`
	// URL is https://, http://, ssh://, scp-like (git@host:path), file://,
	// or a local path, which Load makes absolute.
	URL string `json:"url"`
	// Branch is the tracked branch. Default "main".
	Branch string `json:"branch"`
	// Path is where the manifests live, slash-separated and relative to the
	// repo root; "" is the root.
	Path string `json:"path"`
	// Interval is the poll interval. Default 1m, minimum 1s.
	Interval time.Duration `json:"interval"`
	Auth     AuthConfig    `json:"auth"`
	// WebhookSecret verifies GitHub push webhooks; empty: webhooks for the
	// repo are refused.
	WebhookSecret Secret `json:"webhook_secret"`
	// DriftInterval is how often drift is scanned. Default 15m; "0"
	// disables drift scans for the repo.
	DriftInterval time.Duration `json:"drift_interval"`
	// DriftPR opens a pull request (ECS, Lambda) or an issue (Terraform)
	// for every drift detected, as `driftless drift REPO/APP --pr` does.
	// Needs a github block.
	DriftPR bool `json:"drift_pr"`
	// PullRequests is the pull_requests block; nil: no plan previews.
	PullRequests *PullRequestsConfig `json:"pull_requests,omitempty"`
	// DefRange is the repo block's header, for diagnostics.
	DefRange hcl.Range `json:"-"`
}

// GitHubConfig is the github block: the REST API driftless talks to.
type GitHubConfig struct {
	Token Secret `json:"token"`
	// APIURL is the REST API root; empty: https://api.github.com/. Set it
	// for GitHub Enterprise Server (https://HOST/api/v3/) and in tests.
	APIURL string `json:"api_url"`
}

// PullRequestsConfig is a repo's pull_requests block (plan previews).
type PullRequestsConfig struct {
	Enabled bool `json:"enabled"`
	// AllowForks plans pull requests whose head is in another repository.
	// Planning runs the PR's Terraform code on the controller: with forks
	// allowed, anyone who can open a PR can run code here.
	AllowForks bool `json:"allow_forks"`
	// MaxParallel bounds the stacks previewed at once, beside the deploys.
	// Default 2.
	MaxParallel int `json:"max_parallel"`
}

// AuthConfig is a repo's auth block: a token for http(s) URLs, or an SSH key
// (with known hosts) for ssh and scp-like URLs.
type AuthConfig struct {
	Token          Secret `json:"token"`
	Username       string `json:"username"`         // with token; empty lets the Git client choose
	SSHKeyFile     string `json:"ssh_key_file"`     // absolute
	KnownHostsFile string `json:"known_hosts_file"` // absolute
}

// Transport is how a repo URL is reached: "https", "http", "ssh" (ssh:// and
// scp-like) or "file" (file:// and local paths).
func (r RepoConfig) Transport() string { return urlTransport(r.URL) }

// Load reads, decodes and validates the config file at path. Relative paths
// in it resolve against the file's directory. Problems in the file are
// returned together as a *DiagnosticsError ("file:line:col: message" lines).
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(src, path, os.Getenv)
}

// Parse is Load for content already read: filename names the file in
// diagnostics and anchors relative paths; getenv backs env().
func Parse(src []byte, filename string, getenv func(string) string) (*Config, error) {
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(filename, ".json") {
		f, diags = p.ParseJSON(src, filename)
	} else {
		f, diags = p.ParseHCL(src, filename)
	}
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags}
	}
	d := &decoder{dir: dir, ctx: evalContext(dir, getenv)}
	cfg := d.decodeRoot(f.Body)
	if d.diags.HasErrors() {
		sortDiagnostics(d.diags)
		return nil, &DiagnosticsError{Diags: d.diags}
	}
	cfg.File = filename
	cfg.Dir = dir
	return cfg, nil
}
