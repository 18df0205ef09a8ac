// Package redact removes secret values from text before it leaves the
// process: log lines, event payloads, errors shown to API callers and Slack.
// It knows the configured secrets (tokens, webhook secrets) and also masks
// credentials embedded in URLs.
package redact
