package sim

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/gonaut/gonaut/usbip"
)

// Endpoints of the simulated CDC-ACM serial device.
const (
	SerialNotifyEndpoint = 0x83 // interrupt IN: serial state notifications
	SerialInEndpoint     = 0x82 // bulk IN: bytes from the "port"
	SerialOutEndpoint    = 0x02 // bulk OUT: bytes to the "port"
)

// CDC-ACM class requests (CDC PSTN 1.2 §6.3).
const (
	acmSetLineCoding       = 0x20
	acmGetLineCoding       = 0x21
	acmSetControlLineState = 0x22
	acmSendBreak           = 0x23
)

// LineCoding is the serial line configuration a host sets with
// SET_LINE_CODING.
type LineCoding struct {
	Baud     uint32
	StopBits uint8 // 0: 1, 1: 1.5, 2: 2
	Parity   uint8 // 0 none, 1 odd, 2 even, 3 mark, 4 space
	DataBits uint8
}

// Serial is a simulated CDC-ACM serial adapter whose port is looped back:
// every byte written to SerialOutEndpoint can be read from SerialInEndpoint,
// up to 64 KiB buffered (writes wait for room beyond that). A read waits
// for data; the notification endpoint never completes, so a URB on it
// stays pending until unlinked. It is safe for concurrent use.
type Serial struct {
	*core

	mu      sync.Mutex // guards the fields below
	buf     []byte
	changed chan struct{} // closed and replaced whenever buf changes
	line    LineCoding
	lines   uint16 // DTR (bit 0) and RTS (bit 1)
}

var _ usbip.Device = (*Serial)(nil)

const serialBuffer = 64 << 10

// NewSerial returns a looped-back CDC-ACM device with serial number serial.
func NewSerial(serial string) *Serial {
	cfg := configDescriptor(1,
		interfaceDescriptor(0, 1, 0x02, 0x02, 0x01),
		[]byte{5, 0x24, 0x00, 0x10, 0x01}, // header functional, CDC 1.10
		[]byte{5, 0x24, 0x01, 0x00, 0x01}, // call management
		[]byte{4, 0x24, 0x02, 0x02},       // ACM: line coding and state
		[]byte{5, 0x24, 0x06, 0x00, 0x01}, // union: control 0, data 1
		endpointDescriptor(SerialNotifyEndpoint, usbip.TransferInterrupt, 16, 9),
		interfaceDescriptor(1, 2, 0x0a, 0x00, 0x00),
		endpointDescriptor(SerialInEndpoint, usbip.TransferBulk, 512, 0),
		endpointDescriptor(SerialOutEndpoint, usbip.TransferBulk, 512, 0),
	)
	dev := deviceDescriptor(0x02, 0, 0, vendorPIDCodes, productACM, 0x0100, 1, 2, 3)
	return &Serial{
		core:    newCore(dev, cfg, "Gonaut", "Simulated Serial", serial),
		changed: make(chan struct{}),
		line:    LineCoding{Baud: 9600, DataBits: 8},
	}
}

// LineCoding returns the line coding the host last set.
func (s *Serial) LineCoding() LineCoding {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.line
}

// ControlLines returns the DTR (bit 0) and RTS (bit 1) state the host set.
func (s *Serial) ControlLines() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines
}

// Control answers the ACM class requests and the standard ones.
func (s *Serial) Control(ctx context.Context, st usbip.Setup, data []byte) (int, error) {
	if st.RequestType&0x60 != usbip.RequestTypeClass {
		return s.standard(ctx, st, data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case st.RequestType == 0x21 && st.Request == acmSetLineCoding:
		if len(data) < 7 {
			return 0, usbip.ErrStall
		}
		s.line = LineCoding{Baud: binary.LittleEndian.Uint32(data), StopBits: data[4], Parity: data[5], DataBits: data[6]}
		return 7, nil
	case st.RequestType == 0xa1 && st.Request == acmGetLineCoding:
		var b [7]byte
		binary.LittleEndian.PutUint32(b[:], s.line.Baud)
		b[4], b[5], b[6] = s.line.StopBits, s.line.Parity, s.line.DataBits
		return copy(data, b[:]), nil
	case st.RequestType == 0x21 && st.Request == acmSetControlLineState:
		s.lines = st.Value & 3
		return 0, nil
	case st.RequestType == 0x21 && st.Request == acmSendBreak:
		return 0, nil
	}
	return 0, usbip.ErrStall
}

// Transfer moves bytes through the loopback.
func (s *Serial) Transfer(ctx context.Context, ep uint8, data []byte) (int, error) {
	if err := s.checkEndpoint(ep); err != nil {
		return 0, err
	}
	switch ep {
	case SerialOutEndpoint:
		return s.write(ctx, data)
	case SerialInEndpoint:
		return s.read(ctx, data)
	case SerialNotifyEndpoint:
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return 0, usbip.ErrStall
}

func (s *Serial) write(ctx context.Context, data []byte) (int, error) {
	n := 0
	for {
		s.mu.Lock()
		k := min(len(data)-n, serialBuffer-len(s.buf))
		if k > 0 {
			s.buf = append(s.buf, data[n:n+k]...)
			n += k
			close(s.changed)
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		if n == len(data) {
			return n, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

func (s *Serial) read(ctx context.Context, data []byte) (int, error) {
	for {
		s.mu.Lock()
		if len(s.buf) > 0 {
			n := copy(data, s.buf)
			s.buf = s.buf[:copy(s.buf, s.buf[n:])]
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			return n, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Isochronous stalls: the device has no isochronous endpoint.
func (s *Serial) Isochronous(context.Context, uint8, []byte, []usbip.IsoPacket) (int, error) {
	return isoUnsupported()
}

// Reset unconfigures the device and drops buffered bytes.
func (s *Serial) Reset(context.Context) error {
	s.resetCore()
	s.mu.Lock()
	s.buf = s.buf[:0]
	s.lines = 0
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// Close makes every later transfer fail with ErrNoDevice.
func (s *Serial) Close() error {
	s.closeCore()
	return nil
}
