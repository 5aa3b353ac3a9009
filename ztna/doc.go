// Package ztna composes Gonaut's leaves into a zero-trust gateway and the
// client that reaches it: a [Gateway] runs a WireGuard [tunnel.Tunnel] and
// decides every new flow from a peer with a [policy.Engine] before a byte
// reaches the resource; a [Client] is what an application embeds to dial
// resources behind a gateway by name.
//
// # One access
//
// A peer opens a TCP connection to a resource's virtual address inside the
// tunnel (the gateway's DNS resolved the name to it). The tunnel hands the
// gateway the new flow before answering it, and the gateway:
//
//  1. identifies the peer: public key → device → user, from a [Directory]
//     (a [StaticDirectory] of the config file by default; the console plugs
//     its control plane in here);
//  2. enriches the request: the peer's outer address and, through an
//     analytics.GeoIP, its country and ASN; the time; the subject's current
//     risk score from an analytics.Engine;
//  3. asks policy: a deny refuses the flow (the client sees "connection
//     refused"); an allow whose rule asks for MFA the subject's session lacks
//     is refused too (ErrMFARequired); rate limits per user and per device
//     apply (new flows per second, concurrent flows, and bytes per second
//     shared by all of the user's or device's flows, HTTP included);
//  4. dials an upstream (round robin or least connections over those that
//     pass their active health checks and have not failed recently) and
//     splices the two connections;
//  5. records an [Event] for the decision and another for the closed flow
//     (bytes each way, duration, why it ended), through a queue that one
//     goroutine of the gateway drains in batches, off the flow's path: to
//     analytics, to the [AuditSink] (JSON lines by default), to slog and
//     to OpenTelemetry metrics
//     (gonaut.ztna.decisions, gonaut.ztna.flows.active,
//     gonaut.ztna.flow.bytes, gonaut.ztna.flow.duration,
//     gonaut.ztna.decision.duration, gonaut.ztna.revocations) and a trace
//     span per flow.
//
// # Resources
//
// A resource has a name, a kind, labels, a port and upstreams
// ([ResourceConfig]). Its virtual address comes from Config.ResourcePrefix
// (10.78.0.0/16 by default) unless configured, and stays the same across
// reloads. The gateway answers DNS queries for resource names on its own
// tunnel address, port 53, so that `curl http://wiki.corp/` works from a
// stock WireGuard client whose wg-quick file says DNS = that address.
//
//   - tcp: spliced to an upstream.
//   - http: proxied at layer 7. Every request is decided on its own, with
//     resource.method, resource.path and resource.host; a refused request
//     gets 403 (429 when rate limited). The upstream receives
//     [IdentityHeader], an EdDSA-signed JWT naming the user, device,
//     groups and resource (audience), verifiable with the JWKS the gateway
//     serves at http://GATEWAY-ADDRESS[JWKSPath] inside the tunnel and
//     through [Gateway.JWKSHandler]; [VerifyAssertion] checks one. A copy
//     of the header sent by the peer is dropped. Responses get standard
//     security headers (nosniff, frame options, referrer policy). WebSocket
//     and other upgrades pass through. Upstream connections are pooled.
//   - usb: a usbip.Server; each device of a list and each import is
//     decided with resource.vendor_id, product_id, serial and bus_id. Devices
//     are simulated ones from the config or any usbip.Device added with
//     [Gateway.AddUSBDevice].
//   - serial: a port shared through serialfwd (RFC 2217 or raw); each
//     connection is decided with resource.serial_port.
//
// # Continuous authorisation
//
// Live flows are re-decided, with the current policy, the directory's
// current identity and the current risk score, when [Gateway.Reload],
// [Gateway.SetPolicy] or [Gateway.Reauthorize] is called (synchronously:
// flows now denied are cut before the call returns), when analytics raises
// an alert on the gateway's own events, and every Config.Recheck (500 ms
// by default), which also enforces max_session. So a policy such as
// `risk.score < 30` cuts a subject's flows within milliseconds of an alert
// the gateway's events raise, and within Config.Recheck of a score raised
// by events fed to a shared analytics.Engine from elsewhere. An HTTP connection is re-decided with its last
// request. A device removed on reload keeps its WireGuard session for a
// quarter of a second so that the resets reach it, and can open nothing
// meanwhile.
//
// # Configuration and reload
//
// [ParseConfig] and [ReadConfig] read the YAML form of [Config]; unknown
// keys and wrong types are errors with their line ([ConfigError]).
// [Gateway.Reload] builds everything a new configuration describes first and
// swaps it in only if all of it is valid: a bad reload leaves the running
// gateway untouched. The listen port, key and address need a restart.
// [PeerConfig] writes the wg-quick file of a device.
//
// # Managed by a console
//
// A gateway can take its users, devices and policies from a Gonaut console
// instead of its configuration file. Start it with a ConsoleDirectory as
// Options.Directory and a ConsoleAudit (wrapping a controlplane.Client) as
// Options.Audit, then hand every bundle the client's Watch delivers to
// Gateway.ApplyBundle: the bundle's policies are compiled first (a bundle
// that does not compile is refused and the running one stays), then the
// directory, the tunnel's peers and the policy set are swapped together and
// live flows are re-decided, so a device or user disabled in the console
// is cut before ApplyBundle returns. Resources, limits and the tunnel stay
// in the Config. 'gateway run --console URL --token-file FILE' does this.
//
// # Client
//
// A [Client] runs its own userspace tunnel (no root, no TUN device)
// configured from a wg-quick file or a tunnel.Config; [Client.Dial] and
// [Client.HTTPClient] resolve resource names through the gateway:
//
//	c := &ztna.Client{ConfigFile: "laptop.conf"}
//	defer c.Close()
//	resp, err := c.HTTPClient().Get("http://wiki.corp/")
//
// # Limits and what is not here yet
//
// UDP resources are not implemented (UDP flows other than DNS are
// refused). A [Connector] hosts TCP and HTTP resources; USB and serial
// resources behind a connector, and hot-plug reports from it, are not
// implemented yet. Passive ejection takes a failing upstream out for ten
// seconds.
//
// # Connectors
//
// A resource with Connector set is reached through the tunnel at the
// connector's address instead of being dialled by the gateway: the
// connector (an IoT device, a lab bench, a customer site) is a peer that
// dials out to the gateway, so it works behind NAT, and WireGuard's
// persistent keepalive and roaming carry it across network changes.
// Policy sees the connector and its site as resource labels.
//
// # Performance
//
// Measured on a shared 2-core machine with client, tunnels, gateway and
// upstream in one process (see bench_test.go and the README's table), each
// figure beside its references in the same run. An HTTP request on an
// established connection takes a median of 115–140 µs through the
// gateway: 80–100 µs more than directly on loopback, of which the bare
// tunnel accounts for about 25–30. A fresh connection with policy,
// upstream dial and a one-byte echo takes a median of 270–320 µs (bare
// tunnel 170–210 µs, loopback 60–120 µs); its p99 is about a millisecond
// at light load and several under heavy load, as the bare tunnel's is.
// Identity, enrichment, policy, limits and events take about 5 µs of CPU
// per flow; the rest of a flow's cost is the tunnel, the splice and the
// upstream connection. Events are recorded off the flow's path. An idle
// TCP flow costs two goroutines and small buffers. Bulk transfers through
// the gateway cost no more CPU per byte than through the bare tunnel.
// 10,000 configured idle devices take about 35 MiB of resident memory
// with Config.LazyPeers (about 290 MiB without).
//
// # Concurrency and lifetime
//
// All methods of Gateway and Client are safe for concurrent use. Close
// cuts live flows, stops every goroutine the gateway started (tunnel, DNS,
// JWKS, HTTP proxy, health checks, re-decisions, USB and serial servers,
// and the event writer once it has recorded every queued event), closes
// the audit file and GeoIP databases it opened and is safe to call twice.
// [Gateway.Drain] stops admitting flows and waits for live ones, for a
// graceful shutdown.
package ztna
