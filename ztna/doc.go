// Package ztna composes Gonaut's leaves into a zero-trust gateway and the
// client that reaches it: a [Gateway] runs a WireGuard [tunnel.Tunnel] and
// decides every new flow from a peer with a [policy.Engine] before a byte
// reaches the resource; a [Client] is what an application embeds to dial
// resources behind a gateway by name.
//
// # One access
//
// A peer opens a TCP connection, or sends the first datagram of a UDP
// flow, to a resource's virtual address inside the tunnel (the gateway's
// DNS resolved the name to it). The tunnel hands the
// gateway the new flow before answering it, and the gateway:
//
//  1. identifies the peer: public key → device → user, from a [Directory]
//     (a [StaticDirectory] of the config file by default; a console's
//     bundles with Options.Console);
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
//     span per flow. An alert that analytics raises on an event becomes
//     an [Event] of kind [EventAlert] in the same batch, so the audit
//     sink receives it too.
//
// # Resources
//
// A resource has a name, a kind ([ResourceKind]: [KindTCP], [KindUDP],
// [KindHTTP], [KindUSB] or [KindSerial]), labels, a port and upstreams
// ([ResourceConfig]). Its virtual address comes from Config.ResourcePrefix
// (10.78.0.0/16 by default) unless configured, and stays the same across
// reloads. The gateway answers DNS queries for resource names on its own
// tunnel address, port 53, so that `curl http://wiki.corp/` works from a
// stock WireGuard client whose wg-quick file says DNS = that address.
//
//   - tcp: spliced to an upstream.
//   - udp: each flow (a peer's source address and port to the resource's
//     address and port) is decided on its first datagram, then its
//     datagrams are relayed to an upstream chosen for the flow and the
//     answers back, until it is idle for idle_timeout
//     ([DefaultUDPIdleTimeout] when unset). Rate limits, re-decisions and
//     the closed-flow event with its bytes apply as for tcp; a refused
//     flow's datagrams are dropped, so the peer sees no answer.
//   - http: proxied at layer 7. Every request is decided on its own, as
//     if it opened the connection: the peer is identified again in the
//     directory, and the request decided with the running resource and
//     policy and the current risk, with resource.method, resource.path
//     and resource.host; a refused request gets 403 (429 when rate
//     limited). The path is normalised once and forwarded exactly as
//     decided; an encoded slash or backslash is refused with 400 unless
//     Config.EncodedSlashes (or the resource's) is keep. The upstream
//     always receives the resource's name as Host (resource.host is that
//     name), and a request whose Host names another resource is refused
//     with 421 ([ErrMisdirected]). The upstream receives
//     [IdentityHeader], an EdDSA-signed JWT naming the user, device,
//     groups and resource (audience), verifiable with the JWKS the gateway
//     serves at http://GATEWAY-ADDRESS[JWKSPath] inside the tunnel and
//     through [Gateway.JWKSHandler]; [VerifyAssertion] checks one, and an
//     upstream must check the audience against its own resource name,
//     never against the Host. Every spelling a peer sends of that header,
//     of Forwarded, X-Forwarded-*, X-Real-IP and similar identity and
//     address headers is dropped (names compared case-insensitively, '_'
//     read as '-'), and X-Forwarded-For, -Host and -Proto are set from
//     the gateway's own knowledge: the peer's tunnel address, the
//     resource's name, http. Responses get standard
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
// request, and each of its later requests is decided afresh. A device removed on reload keeps its WireGuard session for a
// quarter of a second so that the resets reach it, and can open nothing
// meanwhile.
//
// # Inside the gateway
//
// One access takes the same path whatever its kind. flow.go's handleFlow
// is the tunnel's FlowHandler and the one place a flow is accepted or
// refused: it finds the resource, lets the handler of its kind admit the
// flow, then accepts it and hands the connection to that handler, or
// refuses it. The handlers are stream.go (tcp, udp, and serial ports on
// a connector: upstream dial and splice), http.go (the layer-7 proxy,
// whose every request is decided; httphost.go, httppath.go and
// httpheaders.go check and clean requests) and devices.go (the USB/IP
// and serial servers' flows and their authorisation hooks;
// deviceattach.go creates and manages those servers).
//
// Every handler decides through access.go, the decision owner and the
// package's only caller of the policy engine (a test guards it): a
// handler describes its access in an accessQuery (peer, source, resource,
// and hooks for what its kind adds: checks before policy, facts for
// resource.*, limits, upstream, event fields), and decide identifies the
// peer, builds and enriches the policy.Request, asks policy, applies the
// obligations the gateway enforces itself, and records the decision.
// liveflows.go holds the live flows, their closed-flow event, and their
// re-decision (Reauthorize, the recheck loop), which goes through decide
// too.
//
// A new resource kind is a [ResourceKind] constant (kind.go), its
// validation in config.go, a case in handleFlow and a handler file that
// builds its accessQuery. A new obligation is read from the decision in
// access.go (decide, or verdict if it refuses an access), and applied
// there or, if it shapes the flow, by the handler from the decision's
// obligations; one that lasts the flow's life is re-checked in
// liveflows.go.
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
// A gateway can take its users, devices, policies and resources from a
// Gonaut console instead of its configuration file: start it with
// Options.Console, a [ConsoleOptions] holding the registered
// controlplane.Client and, typically, the first bundle fetched with it.
// New applies that bundle before it returns; then, until Close, the
// gateway long-polls the console for every newer bundle, applies it with
// [Gateway.ApplyBundle], and pushes its [Gateway.ConsoleStatus] (with the
// bundle version it enforces, and [Gateway.Risks], the risk score of
// every subject scoring above zero) after each one and on a heartbeat.
// Its events go to the console through a [ConsoleAudit] on the same
// client unless Options.Audit says otherwise; ConsoleAudit delivers
// analytics alerts like every other event, and the console stores each as
// one of its alerts. ApplyBundle compiles the bundle's policies and
// builds its resources first (a bundle whose policies do not compile is
// refused and the running one stays), then swaps the directory, the
// tunnel's peers, the policy set and the resources together and
// re-decides live flows, so a device or user disabled in the console is
// cut before ApplyBundle returns. A gateway started with an empty
// ConsoleOptions takes bundles only through ApplyBundle.
//
// The bundle's tcp and http resources are served next to the Config's; on
// a name clash the Config's resource wins, since the file is the gateway
// operator's and is where usb, serial and connector resources live. A
// console resource of another kind, or one that would not validate, is
// skipped and logged rather than refusing the bundle, so that it cannot
// hold back a revocation. Limits and the tunnel stay in the Config, and a
// Reload of the Config keeps the console's policies and resources.
// 'gateway run --console URL --token-file FILE' does all this.
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
// # Limits
//
// Bandwidth limits are shared by all of a user's and a device's TCP,
// UDP and HTTP flows; USB/IP and serial connections are not throttled.
// Passive ejection takes an upstream whose dial (or proxied request)
// failed out for ten seconds, unless it is the last upstream of its
// resource that is up: that one, such as a connector's only service, is
// tried again on the next flow. UDP upstreams have no active health check. A usb resource
// takes its devices either from the configuration or from one connector.
//
// # Connectors
//
// A resource with Connector set lives behind a [Connector]: a peer (an IoT
// device, a lab bench, a customer site) that dials out to the gateway, so
// it works behind NAT. Policy sees the connector's id and site as
// resource.labels.connector and resource.labels.site.
//
//   - tcp, udp and http resources are reached through the tunnel at the
//     connector's address and connector_port, where the connector splices
//     them to its local service (Connector.Export, ExportUDP).
//   - A usb resource is served by the gateway's USB/IP server as usual,
//     with the devices of the connector's USB/IP server
//     (Connector.AddUSBDevice, any usbip.Device): the gateway imports
//     each one through the tunnel and exports it again, so every list
//     entry and import is decided by policy with the device facts, and
//     an allowed import carries the URBs to the connector.
//   - A serial resource is decided at the gateway (resource.serial_port is
//     the device path on the connector) and its RFC 2217 or raw bytes
//     pass through to the connector's serialfwd server
//     (Connector.ExportSerial).
//
// Presence: the gateway asks every connector hosting usb or serial
// resources, once a second, which devices it has (the connector answers
// on PresencePort). A device that appears is imported and recorded as an
// [EventDevicePresent]; one that vanishes, or every device of a connector
// that stops answering, is withdrawn and recorded as an
// [EventDeviceAbsent], and imports of it or connections to it are refused
// with [ErrDeviceAbsent] until it is back.
//
// Reconnection: the connector's persistent keepalive keeps NAT mappings
// open and WireGuard's roaming lets the gateway follow a connector that
// changed address; a connector whose heartbeat (Connector.Heartbeat) goes
// unanswered three times in a row, as after a gateway restart, drops its
// WireGuard session and handshakes again. No restart is needed on either
// side.
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
// (about 290 MiB with Config.EagerPeers).
//
// # Concurrency and lifetime
//
// All methods of Gateway and Client are safe for concurrent use. A
// Gateway stops one way, whether Close is called or New fails half-way:
// it cuts live flows, cancels one context that every goroutine it started
// watches (re-decisions, presence polls, health checks, DNS, JWKS, peer
// removals, the console sync), waits for all of them, then closes what it
// opened in reverse order of opening — the tunnel, the HTTP proxy, the USB
// and serial servers and the imports from connectors, the event writer
// once it has recorded every queued event, its own analytics, the GeoIP
// databases and the audit file. Close is safe to call concurrently and
// again. [Gateway.Drain] stops admitting flows and waits for live ones,
// for a graceful shutdown.
package ztna
