// Package githubtest is an httptest server that plays GitHub's REST API for
// tests: issue and pull request comments, commit statuses, deployments and
// their statuses, pull requests and issues, kept in memory.
//
// Every request is recorded and checked as GitHub's REST API documents it:
// the Authorization: Bearer <token> header (401 "Bad credentials"
// otherwise), an Accept header of GitHub's media type, the
// X-GitHub-Api-Version header when present, a JSON body with only the
// documented fields of the right types and the required ones present, and
// GitHub's limits (65,536-character bodies, 140-character status
// descriptions). A malformed request is answered 422 (or 400/415) as
// GitHub would and reported as a test failure when the test ends. Lists
// are paginated with per_page (default 30, at most 100) and a Link header.
//
// Repositories must be declared (New's repos); anything else is 404. Faults
// (SetFault with Status, RateLimited, SecondaryRateLimited) make chosen
// requests fail the way GitHub fails.
package githubtest
