// Package redact removes secret values from text before it leaves the
// process: log lines, event payloads, errors shown to API callers, Slack
// messages and Terraform's output.
//
// One Redactor holds every secret the controller knows (configured tokens,
// webhook secrets, terraform.env values, AWS keys) and is fed more with Add
// as components learn them. It masks each secret with Mask, also in its
// JSON-escaped and URL-encoded forms, and masks credentials in URLs
// wherever they appear: scheme://user:pass@host, scheme://token@host and
// credential-looking query parameters (token=, password=, sig=,
// X-Amz-Signature=, …). Values shorter than 4 bytes are never treated as
// secrets.
//
// Text goes through String; errors through Error (errors.Is still works);
// streams through Writer; logs through ReplaceAttr and Handler. URL and
// PublicURL prepare a URL for display.
package redact
