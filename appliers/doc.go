// Package appliers defines the contract between the reconciler and the
// targets it deploys to. Each target (Terraform stacks, ECS services, Lambda
// functions) is a subpackage that implements Applier: it owns the schema of
// its manifest block, decodes and validates it, computes a Plan of desired
// against live state, applies exactly that plan, and reports what it did.
//
// The lifecycle is explicit: Decode → Plan → Apply (which waits until the
// target is healthy and may roll itself back). Appliers are wired into the
// reconciler explicitly by cmd/driftless, from one list; there is no
// global registry.
//
// Appliers that can check live state against the last applied desired
// state without changing anything implement DriftDetector; IgnoredPath and
// FilterDrift give them one meaning of ignore_drift patterns and one
// canonical report order.
//
// Errors returned by appliers are classified with Stalled and Transient so
// that the reconciler decides retries from an error's type, never its text.
// Every applier agrees on these classes: a decode or validation error, a
// plan it did not make (ErrForeignPlan, via PlanArtifact) and an approved
// plan that a new plan no longer matches (StalePlan) are Stalled;
// throttling and network errors are Transient (AWSClassifier).
//
// # Adding an applier
//
// A new target is one package and one line:
//
//   - appliers/NAME: a type implementing Applier. Decode declares the
//     block's attributes with package hclattr and adds the checks a schema
//     cannot express; Apply takes its artifact with PlanArtifact; API
//     errors go through an AWSClassifier (or an equivalent). Optional
//     capabilities: Outputter, DriftDetector, and ApprovalRequirer on the
//     spec.
//   - cmd/driftless/appliers.go: one entry in applierList building the
//     applier (live clients for run and plan, none for validate).
//   - appliers/NAME/conformance_test.go: appliertest.Run with a sample
//     block, the files it names and a few invalid blocks.
package appliers
