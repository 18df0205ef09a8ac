// Package client is the CLI's side of driftless's HTTP API:
// a small typed client and the table/JSON printers of `driftless apps` and
// `driftless history`.
//
// Errors the server answers with ({"error": "..."} and a status) come back
// as *APIError, so a caller can tell 401 (bad token) and 404 (unknown app)
// from transport errors. The API token is sent as a bearer token and never
// appears in errors.
package client
