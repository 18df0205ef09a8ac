// Package github implements forge.Forge (and forge.DeploymentFinder) on
// GitHub's REST API through google/go-github: github.com, or GitHub
// Enterprise Server when Options.APIURL is set.
//
// Behaviour worth knowing:
//
//   - EditComment, UpsertComment and FindComment page through all of an
//     issue's comments (100 a page, following the Link header) and keep the
//     first whose body holds the marker; EditComment hands its body to the
//     caller's edit and writes the result in place (or creates the comment)
//     after that one lookup, skipping the write when the body is unchanged.
//   - OpenPullRequest finds the open pull request from OWNER:HEAD; OpenIssue
//     finds the open issue labelled "driftless" whose body holds the marker.
//     Both edit what they find, else create.
//   - Bodies longer than GitHub's 65,536 characters are cut with a note;
//     status descriptions are cut to 140.
//   - CreateDeployment never auto-merges and requires no status contexts,
//     so driftless's own commit statuses never block it.
//
// Errors are decided by type: a 404 wraps forge.ErrNotFound; 401 and 403
// are *forge.AuthError; primary and secondary rate limits are
// *forge.RateLimitError; 409 is *forge.ConflictError; 5xx is
// *forge.ServerError; network failures are wrapped with %w.
// forge.Retryable tells which may pass. The token travels only in the
// Authorization header and is scrubbed from every error and log line.
//
// Package githubtest holds an httptest server that plays GitHub for tests.
package github
