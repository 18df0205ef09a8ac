// Package driftpr proposes a drift back as code: when an ECS service or a
// Lambda function was changed by hand, it reads the live values of the
// drifted attributes (appliers.LiveReader), rewrites the literal values of
// the app's block in its manifest file (comments and formatting kept),
// commits that on the branch driftless/drift/APP — fast-forward only, never
// forced — and opens or updates one pull request per app through
// forge.Forge, whose body carries the drift's fingerprint so the same drift
// is never proposed twice. Attributes set by expressions, secrets and
// anything the block does not set directly are listed in the body, to
// change by hand. A Terraform stack's drift gets an issue instead (the
// drifted addresses and the plan that would revert them): its desired
// values come from variables, modules and expressions, so reverting it is
// a plan, not an edit.
package driftpr
