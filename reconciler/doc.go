// Package reconciler is driftless's control loop.
//
// For every watched repository a loop polls the source on its interval
// (with jitter, and at once when triggered by a webhook or the API), loads
// the desired state of the newest revision with package manifest, and
// reconciles its apps in dependency order with bounded concurrency. An app is
// planned only when its own inputs changed since the revision last applied
// to it — its files, its manifest block, an output it references — or when
// it is forced; a plan with changes is applied at once, or waits for an
// approval when its spec asks for one.
//
// Per-app state (state.AppState) and deploy history live in a Store (a NATS
// JetStream KV bucket in production); every step is announced as an event
// through an Emitter. A revision whose manifests do not validate is rejected
// whole with a source.invalid event, and the last good desired state keeps
// being reconciled.
//
// One app's reconcile is an appRun going through the steps listed in
// run.go, in order; the first step that decides ends the run. The run's
// recorder (recorder.go) is its only writer of app state, history, events
// and metrics, and writes with a revision check: a run that read state
// another replica has since moved on (or whose app lease was lost) is
// fenced and writes nothing more. Drift scans run in a lane of their own
// per repository (drift.go), so they never delay a poll or a deploy.
// Replicas coordinate through leases (lease.go); a state lock orphaned by
// this app's own interrupted deploy is released (statelock.go).
//
// Failures are classified by type (appliers.StalledError waits for a new
// revision; other failures retry with exponential backoff), and an event is
// emitted when something changes, not on every tick.
package reconciler
