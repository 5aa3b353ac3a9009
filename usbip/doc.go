// Package usbip implements USB/IP, the protocol the Linux kernel uses to
// forward USB devices over TCP, as both ends: a [Server] that exports
// devices to the stock Linux client (or any USB/IP client), and a
// userspace client ([List], [Import]) that drives a remote device from Go
// on any operating system, with no kernel module.
//
// What Gonaut adds to the kernel's tools is control: every DEVLIST and
// every IMPORT passes a static [Filter] (by bus id, VID:PID and serial)
// and an [Authorizer] that receives the principal the embedder
// authenticated, so the ztna gateway can put USB devices behind the same
// policy as everything else; and the server serves connections that have
// already been accepted and authenticated elsewhere (a WireGuard tunnel,
// say) through [Server.ServeConn]. The principal travels in the
// connection's context ([WithPrincipal]), as in serialfwd.
//
// # Protocol
//
// The package speaks USB/IP v1.1.1 as Documentation/usb/usbip_protocol.rst
// in the Linux tree describes it: OP_REQ/REP_DEVLIST and OP_REQ/REP_IMPORT
// in the operation phase, then USBIP_CMD_SUBMIT, RET_SUBMIT, CMD_UNLINK and
// RET_UNLINK with 48-byte big-endian headers and ISO packet descriptors.
// Payload travels only in the data direction: OUT data in CMD_SUBMIT, IN
// data in RET_SUBMIT (an OUT's RET_SUBMIT still reports actual_length).
// The 8-byte setup packet is USB's own little-endian encoding. For non-ISO
// URBs number_of_packets is ignored on input and sent as 0, as the Linux
// drivers do (Wireshark's dissector sizes messages by it).
//
// Every field read from the network is validated the way the kernel
// hardened its stub driver: known command, direction 0 or 1, endpoint
// 0–15 and present in the device, transfer_buffer_length within
// [ServerOptions].MaxTransferSize, 0–1024 ISO packets whose offset and length lie
// inside the buffer, no duplicate sequence numbers, bounded URBs and bytes
// in flight; the client checks actual_length against what it asked for and
// ISO replies against its request. A violation closes the connection and
// the server logs the reason; errors wrap [ErrProtocol].
//
// # Server
//
//	srv := usbip.NewServer(&usbip.ServerOptions{
//		Logger: logger,
//		Filter: &usbip.Filter{Deny: []usbip.Rule{{Vendor: 0x0781}}},
//		Authorize: func(ctx context.Context, r usbip.AuthRequest) error {
//			return policy.Check(r.Principal, r.Op, r.BusID, r.Device)
//		},
//	})
//	srv.Add("1-1", sim.NewKeyboard("KBD-1")) // or a hostusb.Device
//	go srv.Serve(ln) // or srv.ServeConn(usbip.WithPrincipal(ctx, who), conn, nil)
//	defer srv.Close()
//
// Serve accepts in the loop serialfwd uses too: temporary accept errors
// (timeouts, EMFILE) are retried after a pause that doubles from 5ms up to
// 1s, and Serve returns nil once the server is closed. Connections it
// accepts get their principal from [ServerOptions].ConnContext.
//
// Devices implement [Device]. Backends: package usbip/sim has simulated
// devices (HID keyboard, CDC-ACM serial loopback, mass storage); package
// usbip/hostusb (build tag gousb, cgo, libusb) exports real hardware; and
// a [RemoteDevice] is itself a Device, so an imported device can be
// re-exported.
//
// Add and Remove may be called at any time: devices appear in and vanish
// from DEVLIST, and removing an imported device disconnects its importer.
// A device has at most one importer; another import is refused as busy.
// When an importer disconnects, mid-transfer or not, its outstanding
// transfers are cancelled, the device is reset (as the kernel stub does)
// and becomes importable again.
//
// Within an import, URBs on one endpoint run one at a time in submission
// order, as on a host controller, while endpoints run concurrently, so
// completions come back out of order across endpoints and a pending
// interrupt or bulk IN never blocks the others. It stays pending until
// data arrives or the client unlinks it. CMD_UNLINK of an outstanding URB
// answers −ECONNRESET (−104) and suppresses its RET_SUBMIT; of one already
// completed it answers 0, after that RET_SUBMIT. Port reset requests
// (SET_FEATURE(PORT_RESET)) become [Device.Reset].
//
// # Client
//
//	conn, _ := net.Dial("tcp", "gw:3240")
//	dev, err := usbip.Import(ctx, conn, "1-1", nil)
//	n, err := dev.Control(ctx, setup, buf)
//	n, err = dev.Transfer(ctx, 0x81, buf) // bulk or interrupt IN
//	req, _ := dev.Submit(ctx, 0x02, data) // many URBs in flight
//	n, err = req.Wait()
//
// Cancelling a transfer's context sends CMD_UNLINK; the transfer returns
// an error matching [ErrUnlinked] and the context's error, unless the
// server had already completed it. URB statuses come back as [Errno]
// values that match the sentinels ([ErrStall] for −32 and so on).
//
// On Linux with the vhci-hcd module loaded, [ImportHandshake] followed by
// [AttachVHCI] hands the connection to the kernel instead, as `usbip
// attach` does.
//
// # Concurrency and lifetime
//
// Server, RemoteDevice and the simulated devices are safe for concurrent
// use. Server.Close stops the listeners, disconnects every peer, waits for
// every goroutine it started and every ServeConn call, and closes the
// devices; RemoteDevice.Close
// fails outstanding transfers with [ErrClosed] and waits for its reader.
// Both are safe to call twice.
//
// # Performance
//
// Measured over loopback on a shared 2-core machine (load average 12–15
// while measuring), client and server in one process, medians of five
// runs: a control transfer round trip (client, TCP, server, simulated
// device and back) takes about 23 µs, 1.8× a bare 48-byte TCP ping-pong
// measured alongside, and costs about 26 µs of CPU; 64 KiB mass-storage
// commands move about 550 MB/s reading and 780 MB/s writing, 0.4× a bare
// TCP stream, at 1.3–1.5 CPU seconds per GB. See BenchmarkControlRoundTrip,
// BenchmarkStorageRead and BenchmarkStorageWrite.
package usbip
