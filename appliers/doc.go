// Package appliers defines the contract between the reconciler and the
// targets it deploys to. Each target (Terraform stacks, ECS services, Lambda
// functions) is a subpackage that implements Applier: it owns the schema of
// its manifest block, decodes and validates it, computes a Plan of desired
// against live state, applies exactly that plan, and reports what it did.
//
// The lifecycle is explicit: Decode → Plan → Apply (which waits until the
// target is healthy and may roll itself back). Appliers are wired into the
// reconciler explicitly by cmd/driftless; there is no global registry.
//
// Appliers that can check live state against the last applied desired
// state without changing anything implement DriftDetector; IgnoredPath and
// FilterDrift give them one meaning of ignore_drift patterns and one
// canonical report order.
//
// Errors returned by appliers are classified with Stalled and Transient so
// that the reconciler decides retries from an error's type, never its text.
package appliers
