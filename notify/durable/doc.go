// Package durable runs one durable JetStream pull consumer on the event
// stream (notify.Stream) the way every driftless event consumer needs it:
// the Slack notifier, the forge deployment reporter and the drift pull
// requests.
//
// A Consumer waits for JetStream (and the stream) with back-off, opens its
// optional KV bucket and creates or updates the durable consumer with
// explicit acks, DeliverAll, MaxDeliver -1 and MaxAckPending 1: one event at
// a time, in stream order, across every replica sharing the durable name.
// It then pulls one message at a time, with pulls that end by themselves
// after FetchWait so a shutdown waits at most that long, and sets itself up
// again when the consumer or the stream is deleted under it.
//
// The Handler's returned error settles each message:
//
//   - nil: acknowledged (a double ack, so a lost ack is seen and logged);
//   - Drop(err): terminated, never delivered again (Term);
//   - any other error once Run's context has ended: handed back at once
//     (Nak), so another replica or the next start takes it up without
//     waiting AckWait;
//   - Retry(err, after): delivered again after exactly after (NakWithDelay);
//   - any other error: Config.Retry decides: dropped when Permanent says so
//     or when MaxAttempts deliveries failed, else delivered again after
//     Backoff(attempt). The kit logs these decisions (in the Policy's
//     words when it has some); Retry and Drop are silent, for handlers
//     that log in their own words.
//
// The kit's own log lines start with Config.Name ("slack notifier started",
// "slack notifier: waiting for JetStream", "slack notifier: fetch failed",
// "slack notifier: ack failed", "slack notifier stopped"); errors in them
// go through Config.Scrub.
package durable
