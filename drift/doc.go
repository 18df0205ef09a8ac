// Package drift gives drift its lifecycle.
//
// Appliers detect drift (appliers.DriftDetector: live state against the
// desired state last applied, never applying anything). This package
// decides what to announce: a drift is fingerprinted by its content, so it
// is announced once when first seen, again only when its content changes
// (or, with a reminder interval, when it has stayed open that long), and
// once more when it is gone. Each open drift keeps the time it was first
// seen. State lives in a Store (a JetStream KV bucket in production) so a
// restart neither forgets an open drift nor announces it twice.
package drift
