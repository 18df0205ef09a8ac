// Package config loads the controller configuration file,
// driftless.hcl by default.
//
// Load parses the file, evaluates its expressions and validates every
// setting. All problems are reported together as a *DiagnosticsError whose
// Error text has one "file:line:col: summary: detail" line per problem.
//
// # Functions
//
// Expressions may call env("NAME") (the variable's value; "" when unset),
// file("PATH") (a file's content without trailing newlines; a relative PATH
// is relative to the config file's directory) and a subset of the cty
// standard library: lower, upper, format, coalesce, tonumber, tostring,
// join, split, replace, trimspace, jsondecode, merge and the like.
//
// An empty string means "not set": an optional setting whose env() variable
// is unset takes its default, while a required one (repo url, slack token,
// route channel) is an error at the attribute's position.
//
// # Decisions beyond the original design
//
//   - Relative paths (state_dir, file(), ssh_key_file, known_hosts_file,
//     plugin_mirror, a terraform binary with a slash, a local repo url)
//     resolve against the config file's directory; Load returns them
//     absolute. state_dir defaults to ".driftless" next to the config file.
//   - instance = "NAME" is this replica's display name (the CloudEvents
//     source driftless/NAME); default: "<hostname>-<6 random hex>", new
//     for every process. Config.Holder ("<instance>/<pid>-<random>") is the
//     per-process identity for leases and in-flight markers.
//   - nats { replicas = N } (1..5, default 1) is the replication factor of
//     the stream and KV buckets on an external cluster.
//   - For the embedded server only (an error with nats.url):
//     nats { sync_interval = "2m" } syncs JetStream in the background
//     instead of on every write; nats { listen = "host:port" } opens a TCP
//     listener, which requires user and password, or token.
//   - drift_interval = "0" disables drift scans for a repo; intervals are
//     Go durations ("90s", "1m", "15m"); interval is at least 1s.
//   - Repo URLs may be https://, http://, ssh://, scp-like (git@host:path),
//     file:// or a local path. A password in a URL is refused (use auth).
//     auth.token goes with http(s) URLs, auth.ssh_key_file (with
//     known_hosts_file, both must exist) with SSH URLs.
//   - Slack route patterns are "category.action" with either part "*", or
//     "*"; categories and actions are checked against the event catalogue (notify).
//   - terraform { run_as = "USER" } runs every Terraform process as that
//     Unix user and its primary group. The user is resolved (os/user) at
//     load; an unknown user, root, or a daemon not running as root is an
//     error at the attribute.
//   - Secrets (api_token, nats.url, nats.password, nats.token, slack.token,
//     auth.token, webhook_secret)
//     have type Secret, and terraform.env type EnvVars: printing, logging or
//     JSON-encoding them yields "[redacted]".
package config
