// Package metrics defines driftless's Prometheus collectors in one place,
// registered on a registry the caller owns and served at GET /metrics.
package metrics
