// Package domain owns every operation of the console: users, devices,
// policies, resources, gateways, groups, API keys, settings, alerts and
// the audit log. Each operation takes (ctx, actor, input) and returns
// domain values and one error vocabulary (see errors.go); it checks its
// input, writes the store and appends its audit record, once, so that
// the REST API, the pages and the control plane cannot disagree about
// what an action did or how it is logged.
//
// The transports in package server only decode a request, call one
// operation and encode its result; they never import the store.
//
// Where things go: an operation on one kind of thing lives in the file
// named after it (users.go, devices.go, policies.go …); its input and
// output types sit beside it. Nothing here knows about HTTP.
//
// # Devices, gateways and the control plane
//
//   - devices.go: reading, changing, renewing and deleting devices, and
//     who may see which (SeesAllDevices); enrolment.go: enrolling one
//     (by an admin or operator, or a user for herself within
//     devices.quota), key generation, address allocation and the
//     device's wg-quick file; wgquick.go: that file's typed values and
//     the parsers every WireGuard value passes.
//   - gateways.go: creating (one operation for the API, the pages and
//     the console binary), revoking, registering and authenticating
//     gateways, and their status reports; bundle.go: the configuration
//     a gateway pulls.
//   - gatewayevents.go: what a gateway may report and how its events are
//     stamped (kinds, effects, clock skew, alerts); bundlemembers.go:
//     the check that a subject or device is in the gateway's bundle, and
//     what is remembered of it per configuration version. A gateway is
//     untrusted input: every check there refuses the one event or report
//     at fault, never a whole batch.
//   - settings.go: every setting's key, check and reader;
//     wgsettings.go: the WireGuard settings enrolment reads.
package domain
