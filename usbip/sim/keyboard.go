package sim

import (
	"context"
	"fmt"
	"sync"

	"github.com/gonaut/gonaut/usbip"
)

// bootKeyboardReport is the HID report descriptor of a boot-protocol
// keyboard (HID 1.11 appendix B.1): modifiers, a reserved byte, five LED
// outputs and six key codes.
var bootKeyboardReport = []byte{
	0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7,
	0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01,
	0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01,
	0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
	0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65,
	0x81, 0x00, 0xc0,
}

// KeyboardEndpoint is the keyboard's interrupt IN endpoint.
const KeyboardEndpoint = 0x81

// HID class requests.
const (
	hidGetReport   = 0x01
	hidGetIdle     = 0x02
	hidGetProtocol = 0x03
	hidSetReport   = 0x09
	hidSetIdle     = 0x0a
	hidSetProtocol = 0x0b
)

// Keyboard is a simulated HID boot keyboard (class 3/1/1) with one
// interrupt IN endpoint (KeyboardEndpoint) carrying 8-byte reports. A read
// of that endpoint stays pending until a report is queued with Report or
// Type, or the URB is unlinked. It is safe for concurrent use.
type Keyboard struct {
	*core
	reports chan [8]byte

	mu       sync.Mutex // guards the fields below
	leds     uint8
	idle     uint8
	protocol uint8
	last     [8]byte
}

var _ usbip.Device = (*Keyboard)(nil)

// NewKeyboard returns a keyboard with serial number serial.
func NewKeyboard(serial string) *Keyboard {
	hid := []byte{9, 0x21, 0x11, 0x01, 0, 1, 0x22, byte(len(bootKeyboardReport)), 0}
	cfg := configDescriptor(1,
		interfaceDescriptor(0, 1, 3, 1, 1),
		hid,
		endpointDescriptor(KeyboardEndpoint, usbip.TransferInterrupt, 8, 7),
	)
	dev := deviceDescriptor(0, 0, 0, vendorPIDCodes, productKbd, 0x0100, 1, 2, 3)
	return &Keyboard{
		core:     newCore(dev, cfg, "Gonaut", "Simulated Keyboard", serial),
		reports:  make(chan [8]byte, 256),
		protocol: 1,
	}
}

// Report queues one 8-byte input report (modifiers, reserved, six key
// codes). It blocks while 256 reports are already queued.
func (k *Keyboard) Report(ctx context.Context, r [8]byte) error {
	select {
	case k.reports <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Type queues a key press and a key release report for each character of
// text: letters, digits, space, newline and a few punctuation marks.
func (k *Keyboard) Type(ctx context.Context, text string) error {
	for _, ch := range text {
		mod, code, ok := usageOf(ch)
		if !ok {
			return fmt.Errorf("sim: keyboard: no key for %q", ch)
		}
		if err := k.Report(ctx, [8]byte{mod, 0, code}); err != nil {
			return err
		}
		if err := k.Report(ctx, [8]byte{}); err != nil {
			return err
		}
	}
	return nil
}

// KeyFor returns the modifier byte and HID usage code of a character, the
// inverse of what Type sends, so hosts in tests can decode reports.
func KeyFor(ch rune) (mod, code uint8, ok bool) { return usageOf(ch) }

// CharFor decodes a key-press report's first key into a character.
func CharFor(r [8]byte) (rune, bool) {
	for ch := rune(' '); ch <= '~'; ch++ {
		if m, c, ok := usageOf(ch); ok && c == r[2] && m == r[0]&0x22 {
			return ch, true
		}
	}
	if r[2] == 0x28 {
		return '\n', true
	}
	return 0, false
}

func usageOf(ch rune) (mod, code uint8, ok bool) {
	const shift = 0x02
	switch {
	case ch >= 'a' && ch <= 'z':
		return 0, uint8(4 + ch - 'a'), true
	case ch >= 'A' && ch <= 'Z':
		return shift, uint8(4 + ch - 'A'), true
	case ch >= '1' && ch <= '9':
		return 0, uint8(30 + ch - '1'), true
	case ch == '0':
		return 0, 39, true
	case ch == '\n':
		return 0, 0x28, true
	case ch == ' ':
		return 0, 0x2c, true
	case ch == '-':
		return 0, 0x2d, true
	case ch == '.':
		return 0, 0x37, true
	case ch == '!':
		return shift, 30, true
	}
	return 0, 0, false
}

// LEDs returns the LED bits the host last set (bit 0 Num Lock, 1 Caps
// Lock, 2 Scroll Lock).
func (k *Keyboard) LEDs() uint8 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.leds
}

// Control answers the HID class requests and the standard ones.
func (k *Keyboard) Control(ctx context.Context, s usbip.Setup, data []byte) (int, error) {
	if s.RequestType == 0x81 && s.Request == usbip.RequestGetDescriptor {
		switch s.Value >> 8 {
		case 0x22:
			return copy(data, bootKeyboardReport), nil
		case 0x21:
			return copy(data, k.config[18:27]), nil
		}
	}
	if s.RequestType&0x60 != usbip.RequestTypeClass {
		return k.standard(ctx, s, data)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case s.RequestType == 0x21 && s.Request == hidSetIdle:
		k.idle = uint8(s.Value >> 8)
		return 0, nil
	case s.RequestType == 0x21 && s.Request == hidSetProtocol:
		k.protocol = uint8(s.Value)
		return 0, nil
	case s.RequestType == 0x21 && s.Request == hidSetReport:
		if len(data) > 0 {
			k.leds = data[0]
		}
		return len(data), nil
	case s.RequestType == 0xa1 && s.Request == hidGetIdle:
		return copy(data, []byte{k.idle}), nil
	case s.RequestType == 0xa1 && s.Request == hidGetProtocol:
		return copy(data, []byte{k.protocol}), nil
	case s.RequestType == 0xa1 && s.Request == hidGetReport:
		return copy(data, k.last[:]), nil
	}
	return 0, usbip.ErrStall
}

// Transfer serves the interrupt IN endpoint: it waits for the next queued
// report.
func (k *Keyboard) Transfer(ctx context.Context, ep uint8, data []byte) (int, error) {
	if ep != KeyboardEndpoint {
		return 0, usbip.ErrStall
	}
	if err := k.checkEndpoint(ep); err != nil {
		return 0, err
	}
	select {
	case r := <-k.reports:
		k.mu.Lock()
		k.last = r
		k.mu.Unlock()
		return copy(data, r[:]), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Isochronous stalls: the keyboard has no isochronous endpoint.
func (k *Keyboard) Isochronous(context.Context, uint8, []byte, []usbip.IsoPacket) (int, error) {
	return isoUnsupported()
}

// Reset returns the keyboard to its unconfigured state; queued reports
// stay queued.
func (k *Keyboard) Reset(context.Context) error {
	k.resetCore()
	k.mu.Lock()
	k.leds, k.idle, k.protocol = 0, 0, 1
	k.mu.Unlock()
	return nil
}

// Close makes every later transfer fail with ErrNoDevice.
func (k *Keyboard) Close() error {
	k.closeCore()
	return nil
}
