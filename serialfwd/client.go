package serialfwd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// ClientOptions configures a Client. A nil *ClientOptions is valid: all
// defaults. The Client never modifies it.
type ClientOptions struct {
	// Mode, when any field is set, is applied right after negotiation.
	Mode Mode

	// NegotiationTimeout bounds the telnet negotiation when ctx has no
	// earlier deadline. Default 5s.
	NegotiationTimeout time.Duration

	// BufferBytes bounds the received data held for Read. When full, the
	// client stops reading the connection, so TCP flow control holds the
	// server back. Control answers are read from the same connection: keep
	// calling Read while you wait for them. Default 256 KiB.
	BufferBytes int

	// Logger receives protocol events. Default: discard.
	Logger *slog.Logger
}

// Client is an RFC 2217 client: a remote serial port that behaves like a
// local one. Read and Write move data; SetMode, SetBreak, SetDTR, SetRTS
// and Purge change the remote port and return what the remote device
// actually applied. Read, Write and the control methods may be called
// concurrently; Close is safe to call more than once and ends them all.
type Client struct {
	conn net.Conn
	opts ClientOptions
	log  *slog.Logger

	wmu  sync.Mutex // guards conn writes and wbuf
	wbuf []byte

	mu        sync.Mutex // guards the fields below
	readable  *sync.Cond // data, an error, or space in rbuf (with mu)
	rbuf      []byte
	rerr      error
	closed    bool
	mode      Mode
	brk       bool
	modem     ModemState
	lineState byte
	signature string
	waiters   map[byte][]chan comPortMsg
	suspended bool          // the server asked us to pause (FLOWCONTROL-SUSPEND)
	resume    chan struct{} // closed on FLOWCONTROL-RESUME

	ready    chan struct{} // closed once COM-PORT-OPTION is agreed
	refused  chan struct{} // closed if the server refuses it
	done     chan struct{} // closed by Close
	readDone chan struct{} // closed when the reader goroutine exits

	// Used by the reader goroutine only (and by NewClient before it starts).
	dec telnetDecoder
	neg negotiator
}

var _ io.ReadWriteCloser = (*Client)(nil)

// Dial connects to an RFC 2217 server (ser2net, a Gonaut Server, a terminal
// server) at addr and negotiates; see NewClient.
func Dial(ctx context.Context, addr string, opts *ClientOptions) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serialfwd: dial %s: %w", addr, err)
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// NewClient negotiates RFC 2217 on an established connection (for example
// one dialled through a tunnel) and returns the Client, which owns conn
// from then on. It fails with ErrNotRFC2217 if the server refuses the
// COM-PORT-OPTION. On error conn is closed.
func NewClient(ctx context.Context, conn net.Conn, opts *ClientOptions) (*Client, error) {
	c := &Client{
		conn: conn, waiters: map[byte][]chan comPortMsg{},
		ready: make(chan struct{}), refused: make(chan struct{}),
		done: make(chan struct{}), readDone: make(chan struct{}),
	}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.NegotiationTimeout <= 0 {
		c.opts.NegotiationTimeout = 5 * time.Second
	}
	if c.opts.BufferBytes <= 0 {
		c.opts.BufferBytes = 256 << 10
	}
	c.log = c.opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.readable = sync.NewCond(&c.mu)
	for _, o := range []byte{optBinary, optSGA, optComPort} {
		c.neg.supported[o] = true
	}
	var b []byte
	b = c.neg.request(b, true, optBinary)
	b = c.neg.request(b, false, optBinary)
	b = c.neg.request(b, true, optSGA)
	b = c.neg.request(b, false, optSGA)
	b = c.neg.request(b, true, optComPort)
	if err := c.sendRaw(b); err != nil {
		conn.Close()
		return nil, err
	}
	go c.reader()

	ctx, cancel := context.WithTimeout(ctx, c.opts.NegotiationTimeout)
	defer cancel()
	select {
	case <-c.ready:
	case <-c.refused:
		c.Close()
		return nil, ErrNotRFC2217
	case <-c.readDone:
		err := c.readErr()
		c.Close()
		return nil, fmt.Errorf("serialfwd: negotiate: %w", err)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("%w: no answer to COM-PORT-OPTION: %w", ErrNotRFC2217, ctx.Err())
	}
	// Learn the current settings, so that Mode and SetMode's answers are
	// complete from the start.
	if _, err := c.RemoteMode(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("serialfwd: query line settings: %w", err)
	}
	if c.opts.Mode != (Mode{}) {
		if _, err := c.SetMode(ctx, c.opts.Mode); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Read reads data from the remote port. It blocks until data arrives, the
// connection ends (io.EOF) or the Client is closed.
func (c *Client) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.rbuf) == 0 && c.rerr == nil && !c.closed {
		c.readable.Wait()
	}
	if len(c.rbuf) > 0 {
		n := copy(p, c.rbuf)
		c.rbuf = c.rbuf[n:]
		if len(c.rbuf) == 0 {
			c.rbuf = c.rbuf[:0:0]
		}
		c.readable.Broadcast()
		return n, nil
	}
	if c.closed {
		return 0, ErrClosed
	}
	return 0, c.rerr
}

// Write sends data to the remote port, doubling 0xFF as telnet requires.
// It waits while the server has suspended the flow.
func (c *Client) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.suspended && !c.closed {
		ch := c.resume
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.done:
		}
		c.mu.Lock()
	}
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	c.wmu.Lock()
	c.wbuf = appendEscaped(c.wbuf[:0], p)
	err := writeFull(c.conn, c.wbuf)
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil
	}
	c.wmu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("serialfwd: write: %w", err)
	}
	return len(p), nil
}

// Close closes the connection and waits for the reader goroutine. Safe to
// call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.readDone
		return nil
	}
	c.closed = true
	close(c.done)
	c.readable.Broadcast()
	c.mu.Unlock()
	err := c.conn.Close()
	<-c.readDone
	return err
}

// Mode returns the remote line settings as last reported by the server.
func (c *Client) Mode() Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

// ModemState returns the remote modem lines as last reported: the inputs
// from NOTIFY-MODEMSTATE, DTR and RTS from the last answers.
func (c *Client) ModemState() ModemState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.modem
}

// SetMode changes the remote line settings; zero fields are left alone. It
// returns the settings the server reports in effect afterwards, and an error
// wrapping ErrRefused when they differ from the request.
func (c *Client) SetMode(ctx context.Context, m Mode) (Mode, error) {
	if err := m.Validate(); err != nil {
		return c.Mode(), err
	}
	type req struct {
		code  byte
		value uint32
	}
	var reqs []req
	if m.BaudRate != 0 {
		reqs = append(reqs, req{cpSetBaudRate, uint32(m.BaudRate)})
	}
	if m.DataBits != 0 {
		reqs = append(reqs, req{cpSetDataSize, uint32(m.DataBits)})
	}
	if m.Parity != 0 {
		reqs = append(reqs, req{cpSetParity, uint32(m.Parity)})
	}
	if m.StopBits != 0 {
		reqs = append(reqs, req{cpSetStopSize, uint32(m.StopBits)})
	}
	if m.Flow != 0 {
		reqs = append(reqs, req{cpSetControl, uint32(m.Flow)})
	}
	// Pipeline the requests, then collect the answers.
	chans := make([]chan comPortMsg, len(reqs))
	var b []byte
	for i, r := range reqs {
		chans[i] = c.expect(r.code)
		b = appendComPort(b, r.code, r.value)
	}
	if err := c.sendRaw(b); err != nil {
		return c.Mode(), err
	}
	for i, r := range reqs {
		if _, err := c.await(ctx, r.code, chans[i]); err != nil {
			return c.Mode(), err
		}
	}
	got := c.Mode()
	want := m.Merge(got)
	if want != got {
		return got, fmt.Errorf("%w: asked %v, in effect %v", ErrRefused, want, got)
	}
	return got, nil
}

// SetBreak sets or clears the break condition on the remote line and
// returns the state the server reports.
func (c *Client) SetBreak(ctx context.Context, on bool) (bool, error) {
	return c.control(ctx, on, ctlBreakOn, ctlBreakOff)
}

// SendBreak holds a break for d.
func (c *Client) SendBreak(ctx context.Context, d time.Duration) error {
	if _, err := c.SetBreak(ctx, true); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	// Clear the break even when ctx ended, with a short grace.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := c.SetBreak(cctx, false)
	return err
}

// SetDTR sets the remote DTR line and returns the state the server reports;
// a device without modem lines (a pty) keeps it off, and the error wraps
// ErrRefused.
func (c *Client) SetDTR(ctx context.Context, on bool) (bool, error) {
	return c.control(ctx, on, ctlDTROn, ctlDTROff)
}

// SetRTS sets the remote RTS line; see SetDTR.
func (c *Client) SetRTS(ctx context.Context, on bool) (bool, error) {
	return c.control(ctx, on, ctlRTSOn, ctlRTSOff)
}

func (c *Client) control(ctx context.Context, on bool, yes, no byte) (bool, error) {
	v := no
	if on {
		v = yes
	}
	ch := c.expect(cpSetControl)
	if err := c.sendRaw(appendComPort(nil, cpSetControl, uint32(v))); err != nil {
		return false, err
	}
	m, err := c.await(ctx, cpSetControl, ch)
	if err != nil {
		return false, err
	}
	got := m.value == uint32(yes)
	if got != on {
		return got, fmt.Errorf("%w: control %d answered %d", ErrRefused, v, m.value)
	}
	return got, nil
}

// Purge asks the server to discard its unsent input (data from the device
// not yet delivered) and/or output (data for the device not yet written),
// and discards the input this Client holds.
func (c *Client) Purge(ctx context.Context, input, output bool) error {
	var v uint32
	if input {
		v |= purgeReceive
	}
	if output {
		v |= purgeTransmit
	}
	if v == 0 {
		return nil
	}
	ch := c.expect(cpPurgeData)
	if err := c.sendRaw(appendComPort(nil, cpPurgeData, v)); err != nil {
		return err
	}
	if _, err := c.await(ctx, cpPurgeData, ch); err != nil {
		return err
	}
	if input {
		c.mu.Lock()
		c.rbuf = c.rbuf[:0:0]
		c.readable.Broadcast()
		c.mu.Unlock()
	}
	return nil
}

// Signature asks the server for its signature text.
func (c *Client) Signature(ctx context.Context) (string, error) {
	ch := c.expect(cpSignature)
	if err := c.sendRaw(appendSignature(nil, cpSignature, "")); err != nil {
		return "", err
	}
	m, err := c.await(ctx, cpSignature, ch)
	if err != nil {
		return "", err
	}
	return string(m.text), nil
}

// expect registers a waiter for the answer to a request with code.
func (c *Client) expect(code byte) chan comPortMsg {
	ch := make(chan comPortMsg, 1)
	c.mu.Lock()
	c.waiters[code] = append(c.waiters[code], ch)
	c.mu.Unlock()
	return ch
}

func (c *Client) await(ctx context.Context, code byte, ch chan comPortMsg) (comPortMsg, error) {
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		c.dropWaiter(code, ch)
		return comPortMsg{}, fmt.Errorf("serialfwd: no answer to COM-PORT-OPTION %d: %w", code, ctx.Err())
	case <-c.readDone:
		c.dropWaiter(code, ch)
		return comPortMsg{}, fmt.Errorf("serialfwd: connection ended: %w", c.readErr())
	}
}

func (c *Client) dropWaiter(code byte, ch chan comPortMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.waiters[code], ch); i >= 0 {
		c.waiters[code] = slices.Delete(c.waiters[code], i, i+1)
	}
}

func (c *Client) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return c.rerr
}

func (c *Client) sendRaw(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := writeFull(c.conn, b); err != nil {
		return fmt.Errorf("serialfwd: write: %w", err)
	}
	return nil
}

// reader decodes the connection until it ends.
func (c *Client) reader() {
	defer close(c.readDone)
	buf := make([]byte, 32<<10)
	var out []byte
	var err error
	for {
		var n int
		n, err = c.conn.Read(buf)
		if n > 0 {
			out = out[:0]
			derr := c.dec.decode(buf[:n], c.deliver, func(ev telnetEvent) error {
				out = c.command(out, ev)
				return nil
			})
			if len(out) > 0 {
				c.sendRaw(out)
			}
			if derr != nil {
				err = derr
				break
			}
		}
		if err != nil {
			break
		}
	}
	if errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	c.mu.Lock()
	c.rerr = err
	c.readable.Broadcast()
	c.mu.Unlock()
}

// deliver appends received data to rbuf, waiting while it is full.
func (c *Client) deliver(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(data) > 0 {
		for len(c.rbuf) >= c.opts.BufferBytes && !c.closed {
			c.readable.Wait()
		}
		if c.closed {
			return ErrClosed
		}
		n := min(len(data), c.opts.BufferBytes-len(c.rbuf))
		c.rbuf = append(c.rbuf, data[:n]...)
		data = data[n:]
		c.readable.Broadcast()
	}
	return nil
}

// command handles a telnet command from the server and appends any reply.
func (c *Client) command(out []byte, ev telnetEvent) []byte {
	switch ev.cmd {
	case tnWILL, tnWONT, tnDO, tnDONT:
		out = c.neg.receive(out, ev.cmd, ev.opt)
		if ev.opt == optComPort {
			if c.neg.us[optComPort] == optYes || c.neg.him[optComPort] == optYes {
				closeOnce(c.ready)
			} else if ev.cmd == tnDONT || ev.cmd == tnWONT {
				select {
				case <-c.ready:
				default:
					closeOnce(c.refused)
				}
			}
		}
	case tnSB:
		if ev.opt != optComPort {
			return out
		}
		m, err := parseComPort(ev.sb)
		if err != nil {
			c.log.Debug("ignoring malformed COM-PORT-OPTION", "err", err)
			return out
		}
		c.answer(m)
	}
	return out
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// answer records a server message and wakes its waiter.
func (c *Client) answer(m comPortMsg) {
	if m.code < serverOffset {
		return // a client command: not for us
	}
	code := m.code - serverOffset
	c.mu.Lock()
	defer c.mu.Unlock()
	switch code {
	case cpSignature:
		c.signature = string(m.text)
	case cpSetBaudRate:
		c.mode.BaudRate = int(m.value)
	case cpSetDataSize:
		c.mode.DataBits = int(m.value)
	case cpSetParity:
		c.mode.Parity = Parity(m.value)
	case cpSetStopSize:
		c.mode.StopBits = StopBits(m.value)
	case cpSetControl:
		switch v := byte(m.value); v {
		case ctlFlowNone, ctlFlowXONXOFF, ctlFlowHardware:
			c.mode.Flow = FlowControl(v)
		case ctlInFlowNone, ctlInFlowXONXOFF, ctlInFlowHardware:
			c.mode.Flow = FlowControl(v - ctlFlowInboundBase)
		case ctlBreakOn, ctlBreakOff:
			c.brk = v == ctlBreakOn
		case ctlDTROn, ctlDTROff:
			c.modem.DTR = v == ctlDTROn
		case ctlRTSOn, ctlRTSOff:
			c.modem.RTS = v == ctlRTSOn
		}
	case cpNotifyLineState:
		c.lineState = byte(m.value)
	case cpNotifyModemState:
		in := modemStateFrom(byte(m.value))
		c.modem.CTS, c.modem.DSR, c.modem.RI, c.modem.DCD = in.CTS, in.DSR, in.RI, in.DCD
	case cpFlowControlSuspend:
		if !c.suspended {
			c.suspended = true
			c.resume = make(chan struct{})
		}
	case cpFlowControlResume:
		if c.suspended {
			c.suspended = false
			close(c.resume)
		}
	}
	if ws := c.waiters[code]; len(ws) > 0 {
		ws[0] <- m
		c.waiters[code] = ws[1:]
	}
}

// RemoteMode asks the server for its current line settings (RFC 2217
// requests with value zero) and returns them.
func (c *Client) RemoteMode(ctx context.Context) (Mode, error) {
	codes := []byte{cpSetBaudRate, cpSetDataSize, cpSetParity, cpSetStopSize, cpSetControl}
	chans := make([]chan comPortMsg, len(codes))
	var b []byte
	for i, code := range codes {
		chans[i] = c.expect(code)
		b = appendComPort(b, code, ctlFlowRequest) // zero: "tell me"
	}
	if err := c.sendRaw(b); err != nil {
		return c.Mode(), err
	}
	for i, code := range codes {
		if _, err := c.await(ctx, code, chans[i]); err != nil {
			return c.Mode(), err
		}
	}
	return c.Mode(), nil
}
