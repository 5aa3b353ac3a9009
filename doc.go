// Package gonaut is the manual for Gonaut, a zero-trust network access toolkit
// for Go: importable packages that decide, carry and watch every access to a
// private resource — a TCP or UDP service, an HTTP app, a USB device or a
// serial port — and two thin reference apps built only from them.
//
// This package holds no code; it introduces the packages and how they
// compose.
//
// # The packages
//
//   - [github.com/gonaut/gonaut/policy] decides. Policies are YAML documents
//     of allow and deny rules whose conditions are CEL expressions over the
//     subject, device, source, resource, time and risk of a request. A policy
//     set compiles once into an immutable value that is safe for concurrent
//     use; each decision carries its deciding rule, obligations and an
//     explanation. Documents carry their own tests, and a what-if simulation
//     reports which past requests a candidate set would decide differently.
//
//   - [github.com/gonaut/gonaut/tunnel] carries. It runs WireGuard in
//     userspace over gVisor's netstack — no root, no TUN device, no kernel
//     module — and hands out plain net.Conn, net.Listener and
//     net.PacketConn values. A gateway intercepts every new flow inside the
//     tunnel and decides it before the handshake completes.
//
//   - [github.com/gonaut/gonaut/usbip] and
//     [github.com/gonaut/gonaut/serialfwd] forward devices: USB over the
//     standard USB/IP protocol, serial ports over raw TCP and RFC 2217, so
//     that stock tools keep working behind Gonaut's policy.
//
//   - [github.com/gonaut/gonaut/analytics] watches. It keeps per-user and
//     per-device baselines of access events, runs anomaly detectors, and
//     keeps a risk score per subject that policies read as risk.score.
//
//   - [github.com/gonaut/gonaut/ztna] composes them: a Gateway that runs a
//     tunnel, identifies and decides every flow, and splices it to the
//     resource (TCP, HTTP at layer 7, USB, serial); a Client that an
//     application embeds to reach resources by name; a Connector that hosts
//     resources where the gateway cannot reach them.
//     [github.com/gonaut/gonaut/ztna/controlplane] is the protocol between
//     gateways and the console: registration, versioned bundles, and events
//     spooled to disk until the console has them.
//
// The leaves never import each other. Types that cross a boundary belong to
// the package that owns the concept (policy.Request, analytics.Event,
// usbip.Device); the composition translates between them.
//
// # One access
//
// A peer opens a connection to a resource's address inside the tunnel. The
// tunnel intercepts the new flow and reports the peer's key, the source and
// the destination. The gateway turns the key into a device and a user, adds
// posture, location, time and the current risk score, and asks the policy
// engine for a decision. A denied flow is refused; an allowed one is spliced
// to the resource's upstream under the decision's obligations. Every decision
// and every closed flow becomes an event for analytics and the audit log.
//
// # The apps
//
// apps/gateway is the gateway binary (run, demo, keygen, peer add); its
// subcommands also check, evaluate and simulate policies and replay events
// through the analytics engine. apps/console is the web console and control
// plane: users, devices, resources, versioned policies with a live editor,
// and a hash-chained audit log, over SQLite or PostgreSQL.
package gonaut
