// Package controlplane is the protocol between a Gonaut console and its
// gateways, and the gateway side of it: a Client that registers, pulls
// configuration bundles and pushes events and status.
//
// # Protocol
//
// Everything is JSON over HTTP(S), under the console's /cp/v1/ prefix:
//
//   - POST /cp/v1/register with a [RegisterRequest] carrying a one-time
//     token created in the console. The answer, a [Credential], is the
//     gateway's own identity from then on; the token cannot be used again.
//   - GET /cp/v1/bundle?after=V&wait=D returns the current [Bundle] when its
//     version is greater than V, or waits up to D (at most [MaxWait]) for one
//     and answers 204 No Content when none came. This long poll is how a
//     disabled device or a changed policy reaches every gateway within a
//     second or two.
//   - POST /cp/v1/events with an [EventBatch]. The console records each
//     event exactly once, keyed by [Event].ID, and answers with an
//     [EventAck]; a batch sent twice is harmless. The console accepts only
//     the [EventKinds], about subjects and devices of the gateway's own
//     bundle, and stamps each with the gateway's identity; an event it
//     refuses is listed in [EventAck].Rejected with the reason, and the
//     rest of the batch is stored.
//   - POST /cp/v1/status with a [Status]: heartbeat, peers, flows,
//     versions, and the [LocalResource]s the gateway serves from its own
//     configuration. The console refuses a report with a bad field and
//     keeps the last good one.
//
// Every call after registration carries the credential as
// "Authorization: Bearer <gateway id>.<secret>". Errors are an [Error] JSON
// object with an HTTP status, the same format as the console's REST API.
//
// # Client
//
// [New] builds a [Client] for one console. [Client.Register] trades a token
// for a credential (and stores it in Options.StateDir when set, so a
// restarted gateway keeps its identity). [Client.Watch] long-polls bundles
// and calls a function with each new one; the gateway applies it
// atomically. [Client.Emit] appends events to a disk spool and returns once
// they are durable (written and fsynced); a background sender pushes the
// spool to the console and deletes a spool file only after the console
// acknowledged it. Events therefore survive the console being down and the
// gateway being killed: what was emitted is delivered, at least once on
// the wire and exactly once in the console, which deduplicates by event id.
//
// # Concurrency
//
// A Client is safe for concurrent use. Close stops the sender and waits for
// it; it is safe to call twice. Events emitted after Close are refused with
// [ErrClosed].
package controlplane
