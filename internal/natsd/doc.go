// Package natsd runs the embedded NATS server and connects to NATS.
//
// With no nats.url configured, driftless starts an embedded nats-server
// (Start) with JetStream on local disk under state_dir. By default every
// write is fsynced before it is acknowledged (Options.SyncInterval 0). The
// daemon runs it with no TCP listener (Options.InProcess) and reaches it
// with (*Server).Connect, an in-process connection; an optional listener
// requires a user and password or a token, which in-process clients supply
// too. Streams and KV buckets survive a restart on the same StoreDir. The
// embedded server installs no signal handlers and logs through the injected
// *slog.Logger.
//
// Connect dials one server or a comma-separated cluster list, reconnects
// forever with backoff and logs disconnects and reconnects. Credentials in a
// URL (user:pass@ or token@) never appear in logs or errors: see redact.URL.
package natsd
