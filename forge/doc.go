// Package forge is what driftless asks of a Git forge's API: one comment
// per pull request edited in place, commit statuses, deployments and their
// statuses, pull requests and issues opened or updated by a marker. The
// GitHub implementation (REST, through google/go-github) is in
// forge/github; the reconciler, the preview runner, the deployment
// reporter and the drift pull-request writer only see this interface.
package forge
