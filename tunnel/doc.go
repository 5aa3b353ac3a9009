// Package tunnel is a userspace WireGuard interface with its own TCP/IP
// stack: WireGuard from [golang.zx2c4.com/wireguard] over gVisor's
// netstack. A gateway, a client app or an IoT device embeds a [Tunnel] to
// reach its peers privately, with no root, no TUN device and no kernel
// module; the network inside the tunnel exists only within the process and
// is reached through standard net types.
//
// # Starting a tunnel
//
// A [Config] holds what a wg-quick file holds: the private key, UDP listen
// port, the tunnel's own addresses, MTU, DNS servers and the peers, each
// with its public key, optional preshared key, endpoint, allowed IPs and
// persistent keepalive. [New] binds the UDP port, configures the peers and
// brings the interface up:
//
//	priv, _ := tunnel.GeneratePrivateKey()
//	t, err := tunnel.New(ctx, tunnel.Config{
//		PrivateKey: priv,
//		ListenPort: 51820,
//		Addresses:  []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")},
//		Peers: []tunnel.PeerConfig{{
//			PublicKey:  peerKey,
//			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.2/32")},
//		}},
//	}, nil)
//	defer t.Close()
//
// [GeneratePrivateKey] returns a random private key already clamped as
// RFC 7748 describes, and [Key.PublicKey] derives its public half: code
// that mints WireGuard keys (the console enrolling a device) uses these
// rather than clamping bytes itself.
//
// [Options] add a *slog.Logger (default: discard), OpenTelemetry meter and
// tracer providers (default: the global ones), the flow handler and the
// UAPI socket described below.
//
// # Using the network inside
//
// [Tunnel.Dial], [Tunnel.Listen] and [Tunnel.ListenPacket] work like their
// package net namesakes and return a plain [net.Conn], [net.Listener] and
// [net.PacketConn]; [Tunnel.HTTPClient] returns an *http.Client that dials
// through the tunnel. Host names resolve through the configured DNS
// servers, inside the tunnel. A listener goes straight into http.Serve:
//
//	l, _ := t.Listen("tcp", ":80")
//	go http.Serve(l, handler)
//
// The netstack answers ICMP echo (ping) on the tunnel's addresses.
//
// # Peers
//
// [Tunnel.SetPeer] adds or updates a peer and [Tunnel.RemovePeer] removes
// one while traffic to other peers flows; removing a peer destroys its
// session keys at once. [Tunnel.SetPeers] replaces the whole peer set in
// one step, as a control plane's bundle does, and can move an address
// from one peer to another. No two peers' allowed IPs may overlap: every
// entry point refuses it with an error naming both. [Tunnel.Peers]
// reports each peer's current endpoint (WireGuard follows a roaming peer
// to the address its authenticated packets come from), last handshake and
// byte counters. [Tunnel.WhoIs] maps an inner source address to the peer
// whose allowed IPs contain it now.
//
// A [Flow]'s Peer is the key that authenticated its first packet. The
// tunnel names it while wireguard-go delivers that packet, from a table it
// changes only in step with wireguard-go's cryptokey routing: a prefix is
// given to a peer in wireguard-go first, and taken from a peer by
// stopping the peer in wireguard-go (which waits for the packets it has
// authenticated) before any other peer may have it. Taking allowed IPs
// from a peer therefore restarts its session; the tunnel starts the new
// handshake at once when it knows the peer's endpoint. It also closes the
// flows accepted from those addresses, whose later packets would be
// authenticated by another key.
//
// # Flow interception for gateways
//
// With [Options].FlowHandler set, the tunnel becomes a gateway: its
// netstack accepts packets to any address, and every new inbound TCP
// connection or UDP flow that none of the tunnel's own listeners claims is
// handed to the [FlowHandler] as a [Flow] — protocol, peer key, source and
// destination — before anything is answered. The handler calls
// [Flow.Accept] to complete the handshake and get the net.Conn (which it
// then typically splices to an upstream), or [Flow.Refuse] to reset the
// connection; returning without deciding refuses. This is the point where
// a gateway authorises each flow with a policy:
//
//	opts := &tunnel.Options{FlowHandler: func(ctx context.Context, f *tunnel.Flow) {
//		if !allowed(f.Peer, f.Destination) {
//			f.Refuse() // the client sees "connection refused"
//			return
//		}
//		c, err := f.Accept()
//		if err != nil {
//			return
//		}
//		defer c.Close()
//		upstream, err := net.Dial("tcp", backendFor(f.Destination))
//		...
//	}}
//
// Peers reach addresses behind the gateway by listing them in the
// gateway's entry of their AllowedIPs (and the gateway lists the peer's
// inner address in the peer's entry). In this mode the stack does not
// loop back connections from the tunnel to its own addresses.
//
// # Configuration files and wg(8)
//
// [ParseConfig] and [ReadConfig] read the wg-quick format and
// [Config.MarshalText] writes it, so a configuration can be handed (or
// shown as a QR code) to any stock WireGuard client; [Tunnel.Config]
// returns the live configuration including peers changed since [New].
// Errors carry the line number ([ConfigError]). With [Options].UAPIName set,
// the tunnel serves the standard UAPI socket in /var/run/wireguard, and
// `wg show NAME` and `wg set NAME ...` work against it; the tunnel answers
// the protocol from its own peer table, so changes made with wg set show in
// Config, Peers and WhoIs at once; a set request is applied as
// [Tunnel.SetPeers] applies a peer set.
//
// # Performance
//
// The tunnel does not use wireguard-go's stock netstack adapter
// (tun/netstack, a channel endpoint moving one packet per hand-off). Its
// link between WireGuard and the netstack drains every queued packet in one
// Read call (128 per batch, matching the UDP batching of conn.StdNetBind),
// lets gVisor's TCP build segments of up to 64 KiB that the link cuts into
// MTU-sized packets (segmentation offload), hands decrypted batches to the
// stack through gVisor's GRO so that TCP processes coalesced segments, and
// skips checksum verification of packets WireGuard has already
// authenticated. It cuts segments a little short of gVisor's MSS where
// that keeps WireGuard's runs of equal-sized UDP datagrams within what
// loopback passes as one UDP GSO packet, so that a receiver on the same
// host reads whole runs per system call. TCP buffers grow to
// [Options].TCPBufferSize (4 MiB). On the development machine (2 cores
// shared with other jobs, load average 6–18) bulk TCP between two tunnels
// over loopback ran 3.2–8.5× faster than two stock adapters, with 3.3–4.1
// CPU-seconds per GiB against their 15–19, both ends counted;
// BenchmarkThroughput measures both and raw loopback TCP side by side.
//
// Every peer loaded into wireguard-go costs about 28 KiB (its per-peer
// queues and goroutines), so 10,000 loaded peers take about 280 MiB. The
// tunnel therefore keeps its peers in its own table and loads a peer into
// wireguard-go only while it is in use — when the tunnel sends to it or its
// handshake arrives — and unloads it after five idle minutes; 10,000 idle
// peers then fit in about 20 MiB of RSS for the whole process. The first
// packet to or from an unloaded peer pays a peer setup of tens of
// microseconds. [Tunnel.Peers], [Tunnel.Config], [Tunnel.WhoIs] and the UAPI
// socket see every configured peer whether loaded or not, with statistics
// summed across loads. [Options].EagerPeers loads every peer at start, as
// stock wireguard-go does. BenchmarkIdlePeers measures both modes in fresh
// processes.
//
// # Telemetry
//
// Metrics go to [Options].MeterProvider under the scope [ScopeName]:
// gonaut.tunnel.peers (configured peers), gonaut.tunnel.rx_bytes and
// gonaut.tunnel.tx_bytes (WireGuard transport bytes, all peers),
// gonaut.tunnel.handshakes (completed handshakes, counted when a collection
// sees a peer's last handshake time advance, so collect at least every two
// minutes to see every rekey) and gonaut.tunnel.flows (flows offered to the
// flow handler, by protocol and verdict). Each flow decision is a span
// "tunnel.flow" from [Options].TracerProvider.
//
// # Concurrency, errors and lifetime
//
// All methods of Tunnel are safe for concurrent use. Errors wrap the
// sentinels in errors.go ([ErrClosed], [ErrInvalidConfig], [ErrInvalidKey],
// [ErrUnknownPeer], [ErrUnsupportedNetwork], [ErrFlowDecided]). Bad input
// from the network (garbage, truncated, replayed or forged datagrams) is
// dropped by WireGuard and never reaches the stack; bad configuration
// text returns an error. [Tunnel.Close] stops every goroutine the tunnel
// started, waits for running flow handlers (whose context it cancels),
// closes the netstack and releases the UDP socket; calling it again is
// safe.
package tunnel
