// Package forge reports driftless deploys as deployments on GitHub.
//
// A Reporter consumes the deploy and rollback events of the JetStream
// stream DRIFTLESS_EVENTS through a durable pull consumer (notify/durable)
// with explicit acks, one event at a time and in stream order (replicas
// sharing the durable share the work: each event is handled once). For every app of a
// repo whose clone URL is on the configured GitHub (forge.RepoFromURL) it
// keeps one GitHub deployment per driftless deploy, to the environment
// REPO/APP:
//
//   - deploy.started and rollback.started: the deployment is created (ref =
//     the revision, payload = deploy id, kind, reason) and marked
//     in_progress;
//   - deploy.succeeded and rollback.succeeded: success (an automatic
//     rollback, which undid a failed rollout, is a failure);
//   - deploy.failed and rollback.failed (an interrupted deploy included):
//     failure.
//
// Statuses link the app's status page (external_url + /apps/REPO/APP) when
// the daemon has an external_url. When the deployed commit came from a pull
// request (the event's pr), the pull request's driftless comment
// (forge.CommentMarker) gains one line per finished deploy under a
// "### Deployments" heading; the rest of the comment is kept.
//
// Exactly once: the deploy id → deployment id mapping and each event's
// progress live in a KV bucket, and a deployment not in the bucket (another
// bucket, a lost write) is found again on GitHub by its payload's deploy id
// (forge.DeploymentFinder) before one is created. A redelivered event
// neither creates a second deployment nor adds a comment line twice.
//
// Turning the reporter on does not replay the stream's history onto the
// forge: events older than Options.Backfill (1h) before the durable
// consumer was first created are skipped.
//
// Errors: rate limits, 5xx and network failures are retried with back-off
// (NakWithDelay); a refused token is retried every AuthRetry; an event
// GitHub will never accept (404 repository, 422) is dropped with a warning;
// a comment line the token may not write (403) is given up, the deployment
// kept.
// The reporter never blocks deploys: it only reads the event stream.
package forge
