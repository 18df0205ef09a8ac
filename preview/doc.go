// Package preview plans a pull request before it is merged: it fetches the
// pull request's head, loads its manifests, plans every app whose inputs
// differ from the tracked branch exactly as a deploy would decide (the
// reconciler's SpecHash and InputsTouched), in DAG order, without applying,
// without app leases and without Terraform state locks, each stack in a
// work directory of its own; and reports the result as one pull request
// comment and a commit status through forge.Forge, and as preview.ready or
// preview.failed events.
//
// Planner does one preview (the CLI's `driftless plan --ref` uses it
// alone); Render turns its Result into the comment's markdown; Runner
// takes pull request webhooks, cancels the preview of an older head when a
// newer one comes, and bounds the plans each repo runs at once.
package preview
