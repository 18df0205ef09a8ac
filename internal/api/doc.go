// Package api is driftless's HTTP server: the JSON API the CLI
// talks to, the GitHub, GitLab and Gitea/Forgejo webhooks, Prometheus
// metrics, health probes and the status page.
//
// Routes:
//
//	GET  /healthz                                 200 "ok" while the process serves
//	GET  /readyz                                  200 "ok", or 503 with the reason
//	GET  /metrics                                 Prometheus exposition of the registry
//	GET  /                                        status page: every app (HTML)
//	GET  /apps/{repo}/{app}                       status page of one app: state, last plan, history (HTML)
//	GET  /api/v1/apps                             list of app objects
//	GET  /api/v1/apps/{repo}/{app}                one app object
//	GET  /api/v1/apps/{repo}/{app}/history        deploy records, as the controller orders them
//	POST /api/v1/apps/{repo}/{app}/{action}       reconcile, rollback, unpin, approve, suspend, resume
//	POST /hooks/github                            GitHub push, pull_request and ping webhooks
//	POST /hooks/gitlab                            GitLab push webhook
//	POST /hooks/gitea                             Gitea and Forgejo push webhook
//
// Read-only endpoints are open: bind listen to a trusted interface or put a
// proxy in front when the app list is sensitive. Mutating endpoints need
// "Authorization: Bearer <api_token>" (compared in constant time); a missing
// or wrong token gets 401 and nothing is done. With no api_token configured
// every mutating call is refused with 403.
//
// An action's JSON body is optional and at most 64 KiB (413 beyond):
// {"to": "REV"} or {"previous": true} (rollback requires exactly one of
// them), "revert" (rollback only, passed through), "plan_id" (approve only:
// the plan the approver saw; 409 naming the current plan when another one
// awaits approval) and "caller" (who asked; "api" when absent). Unknown
// fields are a 400.
//
// Errors are JSON {"error": "..."}; a Controller error wrapping state.ErrNotFound,
// state.ErrConflict or state.ErrBadRequest becomes 404, 409 or 400, anything else 500.
//
// The webhooks read at most 1 MiB, as application/json or (GitHub, Gitea)
// application/x-www-form-urlencoded with the JSON in the "payload" field;
// another Content-Type gets 415. A GitHub ping is answered 200. A push (or
// GitHub pull_request) is authenticated first, as its forge does it —
// GitHub's X-Hub-Signature-256 HMAC of the body as sent, GitLab's
// X-Gitlab-Token, Gitea's (Forgejo's) hex X-Gitea-Signature HMAC of the
// JSON — against every configured webhook_secret in constant time: one no
// secret authenticates gets 401 (403 when no repo has a secret), with the
// same body whatever repository it names, so an unauthenticated caller
// learns nothing about what is watched. It is then matched to a watched
// repo by the repository URLs its forge gives and its ref; when that
// repo's own secret authenticated it, a push polls the repo at once (202
// "triggered") and a pull request is handed to a PullRequestTarget (202
// "preview"). Anything else gets 202 "ignored".
//
// The status pages are rendered on the server with html/template from the
// embedded templates/*.html (every value escaped), reload themselves every
// 10 s, need no JavaScript and load nothing else: their one inline stylesheet
// is allowed by its hash in the Content-Security-Policy. An unknown app gets
// a 404 HTML page.
//
// With RestrictHosts (the daemon always calls it), a request whose Host
// header is not the listen address, a loopback form with the listen port or
// the host of external_url gets 421 with a JSON error, before any handler
// runs (DNS rebinding); GET /healthz and GET /readyz are exempt.
//
// Each request is logged at debug level (method, path, status, duration);
// headers, and so the API token, are never logged.
package api
