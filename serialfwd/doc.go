// Package serialfwd forwards serial ports over TCP, in raw mode and with
// the telnet COM-PORT-OPTION of RFC 2217, so that the tools people already
// use (pyserial's rfc2217://, ser2net's clients, terminal-server drivers)
// keep working — behind Gonaut's identity and policy instead of an open TCP
// port.
//
// It has three parts: a [Server] that shares ports, a [Client] that uses a
// remote port as if it were local, and a [Bridge] that turns a remote port
// back into a local virtual serial port (/dev/pts/N) for programs that only
// know device files.
//
// # Sharing a port
//
//	srv := serialfwd.NewServer(&serialfwd.ServerOptions{
//		Authorize: func(ctx context.Context, req serialfwd.AuthRequest) error {
//			return checkPolicy(req.Principal, req.Port) // nil allows
//		},
//	})
//	srv.AddPort(serialfwd.PortConfig{
//		Name:   "plc1",
//		Open:   serialfwd.SerialOpener("/dev/ttyUSB0", serialfwd.Mode{BaudRate: 9600}),
//		Access: serialfwd.AccessShared,
//	})
//	go srv.Serve(listener, "plc1", serialfwd.ProtocolRFC2217)
//	defer srv.Close()
//
// Serve accepts in the loop usbip uses too: temporary accept errors
// (timeouts, EMFILE) are retried after a pause that doubles from 5ms up to
// 1s, and Serve returns nil once the Server is closed. Connections it
// accepts get their principal from [ServerOptions].ConnContext.
//
// An embedder that accepts and authenticates connections itself (the
// gateway, inside its tunnel) hands each one over with the identity it
// established, in the connection's context as usbip takes it too:
//
//	err := srv.ServeConn(serialfwd.WithPrincipal(ctx, user), conn, "plc1", serialfwd.ProtocolRaw)
//
// ServeConn returns when the session ends, with the reason: nil when the
// client hung up, or an error wrapping [ErrDenied], [ErrPortBusy],
// [ErrKicked], [ErrDeviceGone], [ErrDeviceUnavailable], [ErrIdle],
// [ErrSlowWatcher], [ErrProtocol] or [ErrClosed].
//
// # Devices
//
// A port's device is anything that implements [Device]: an
// [io.ReadWriteCloser] plus a [LineController] for line settings, break and
// modem lines. [OpenSerial] opens a real port with go.bug.st/serial; tests
// and embedders plug in their own (a simulator, a USB-CDC stack, even a
// [Client] to chain to another server).
//
// The device is opened when the first client connects and closed after the
// last one leaves. When it fails — a USB-serial adapter unplugged, a pty
// whose other side closed — every session of the port ends with
// [ErrDeviceGone], clients are refused with [ErrDeviceUnavailable] while it
// is missing, and the next connection after it returns opens it again.
//
// # RFC 2217
//
// The server negotiates BINARY both ways, SUPPRESS-GO-AHEAD and
// COM-PORT-OPTION (44), refuses every other option, and implements every
// COM-PORT-OPTION command: SIGNATURE, SET-BAUDRATE, SET-DATASIZE,
// SET-PARITY, SET-STOPSIZE, SET-CONTROL (flow control, break, DTR, RTS and
// their queries), NOTIFY-LINESTATE and NOTIFY-MODEMSTATE with their masks
// (modem inputs are polled, see [PortConfig].ModemPoll),
// FLOWCONTROL-SUSPEND/RESUME and PURGE-DATA. Value 0 queries.
//
// Every answer carries the value in effect after the device tried to apply
// the request, read back from the device — never simply the request echoed.
// A Linux pty, for example, forces 8 data bits without parity: asked for
// 7E1 the server answers 8N, and pyserial reports "remote rejected value".
// The [Client] reports such a difference as [ErrRefused] together with the
// applied value.
//
// # Modem lines
//
// [PortConfig].ModemLines says how DTR, RTS and flow-control requests are
// answered. ModemLinesReal passes them to the device and answers with what
// it applied: right for a UART. A pty (QEMU's -serial pty, simulators,
// socat, a chained ser2net) has no modem lines, and pyserial, which sets
// DTR and RTS when it opens a port, would fail on such a port with "remote
// rejected value for option 'control'". ModemLinesVirtual acknowledges the
// requests, remembers them and reports the remembered state (modem inputs
// read as off). ModemLinesRefuse never changes the lines or the flow
// control and answers with the state in effect, for a board that a DTR
// toggle would reset. The default, ModemLinesAuto, is real for a device
// whose modem lines can be read when it opens and virtual otherwise, so
// pyserial's default open, a baud change and a break work on a pty.
//
// 0xFF is doubled in data and in subnegotiations in both directions. Telnet
// input is parsed incrementally with bounded state: a subnegotiation longer
// than 512 bytes or a framing error ends the session with [ErrProtocol];
// malformed COM-PORT-OPTION payloads are ignored.
//
// # Access, authorisation and audit
//
// [PortConfig].Access chooses how connections share a port:
// [AccessExclusive] refuses a second client, [AccessExclusiveKick] hands
// the port to the newest, and [AccessShared] lets later clients watch
// read-only while the first writes. [ServerOptions].Authorize sees every
// connection's principal (from [WithPrincipal]) and port before a byte is
// exchanged. [PortConfig].IdleTimeout ends quiet sessions, and
// [PortConfig].SessionLog records every byte each way with the session's
// principal ([NewTextSessionLog] writes one line per transfer).
//
// # Flow control and memory
//
// No byte is dropped or reordered. Buffers are bounded: data for the device
// is written before more is read from the network (TCP flow control holds
// the client back), data from the device is written to the writer's
// connection before more is read from the device (the kernel and the
// line's own flow control hold the device back), and a read-only watcher
// gets a bounded queue ([PortConfig].QueueChunks) and is disconnected with
// [ErrSlowWatcher] when it falls behind, rather than slowing the writer
// down. FLOWCONTROL-SUSPEND from a client pauses its data until RESUME.
//
// # Threads and latency
//
// On Linux, a device opened with [OpenSerial] is served by an event loop,
// as ser2net serves its ports: one goroutine waits in poll(2) on the tty
// and on the writer's TCP socket together and forwards each way inline,
// with no hand-off between goroutines or threads, so a round trip wakes one
// thread once per direction. The socket is taken out of the runtime's
// network poller for the session (the loop keeps a duplicate of its
// descriptor), so that arriving data wakes only the loop. Writes never
// block the loop: what one side does not take stays pending (at most one
// read's worth) and the loop stops reading the side that feeds it until
// the other takes bytes again, so each direction keeps moving while the
// other is held up.
//
// A loop holds a thread, and the runtime's right to run Go code, while it
// waits: at most GOMAXPROCS-1 devices are served that way at a time, so
// that one always stays free for the rest of the program. Further devices,
// devices that are not a tty read by OpenSerial, and connections other than
// a plain [*net.TCPConn] or [*net.UnixConn] (a tunnel's [net.Conn], TLS, any
// wrapper, which the loop must not bypass) use one goroutine per
// direction instead: the session's goroutine reads the connection and
// writes the device, the port's device reader reads the device and writes
// the writer's connection. Watchers always get their bytes through their
// queue.
//
// # The client and the pty bridge
//
//	c, err := serialfwd.Dial(ctx, "gw.example:2217", nil)
//	mode, err := c.SetMode(ctx, serialfwd.Mode{BaudRate: 9600})
//	c.Write([]byte("AT\r"))
//
//	b, err := serialfwd.NewBridge(ctx, c, &serialfwd.BridgeOptions{Link: "/tmp/ttyPLC1"})
//	fmt.Println(b.Path()) // /dev/pts/7; minicom -D /tmp/ttyPLC1
//
// The bridge copies bytes unchanged both ways and sends baud rate, stop
// bits and flow control that a program sets on the pty to the remote port.
// Linux forces ptys to 8 data bits without parity and gives them no break,
// DTR or RTS, so those settings cannot be seen on the pty and do not
// propagate.
//
// # Concurrency, logging, metrics, platforms
//
// Server, Client and Bridge are safe for concurrent use. Close on each stops
// every goroutine it started, waits for them, and is safe to call twice;
// the Server's Close also ends every ServeConn session (with [ErrClosed]),
// without waiting for those calls to return.
// Logging goes to the [log/slog.Logger] in the options (default: discard);
// the Server's OpenTelemetry metrics (gonaut.serialfwd.sessions.active,
// gonaut.serialfwd.sessions.ended by reason, gonaut.serialfwd.bytes by
// direction) go to [ServerOptions].MeterProvider (default: the global one)
// under the scope [ScopeName].
//
// [OpenSerial] and [Bridge] are Linux-only (termios2, Unix 98 ptys); the
// Server and Client build everywhere and take any [Device].
//
// # Interoperability
//
// The tests run the server against pyserial's RFC 2217 client and the
// client against Debian's ser2net, over socat pty pairs, and compare
// throughput and latency with ser2net side by side (BenchmarkForwarding,
// and BenchmarkRTTInterleaved for the latency tail).
// ser2net 4.x answers BREAK-OFF with BREAK-ON, answers SET-DATASIZE 7 with
// 7 on a pty that keeps 8, and does not answer DTR on a pty; the client
// reports what it is told.
package serialfwd
