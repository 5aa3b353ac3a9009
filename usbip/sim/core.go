package sim

import (
	"context"
	"sync"

	"github.com/gonaut/gonaut/usbip"
)

// core holds what every simulated device shares: its descriptors, the
// standard requests of USB 2.0 chapter 9, the active configuration and
// halted endpoints.
type core struct {
	dev     []byte
	config  []byte
	strings []string // index 1.. ; index 0 is the language table
	base    usbip.DeviceInfo

	mu         sync.Mutex // guards the fields below
	configured uint8
	halted     map[uint8]bool
	closed     bool
}

func newCore(dev, config []byte, strs ...string) *core {
	c := &core{dev: dev, config: config, strings: strs, halted: map[uint8]bool{}}
	if err := usbip.ParseDeviceDescriptor(dev, &c.base); err != nil {
		panic("sim: bad built-in device descriptor: " + err.Error())
	}
	_, ifs, err := usbip.ParseConfigDescriptor(config)
	if err != nil {
		panic("sim: bad built-in config descriptor: " + err.Error())
	}
	c.base.Interfaces = ifs
	c.base.Speed = usbip.SpeedHigh
	if i := dev[16]; i != 0 {
		c.base.Serial = strs[i-1]
	}
	return c
}

// Info reports the descriptors' contents and the active configuration.
func (c *core) Info() usbip.DeviceInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := c.base
	info.ConfigurationValue = c.configured
	return info
}

// checkEndpoint returns ErrStall for a halted endpoint and ErrNoDevice
// after Close.
func (c *core) checkEndpoint(ep uint8) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return usbip.ErrNoDevice
	case c.halted[ep]:
		return usbip.ErrStall
	}
	return nil
}

func (c *core) resetCore() {
	c.mu.Lock()
	c.configured = 0
	clear(c.halted)
	c.mu.Unlock()
}

func (c *core) closeCore() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// standard answers the standard requests. Anything it does not know
// stalls, as a real device's control endpoint does.
func (c *core) standard(_ context.Context, s usbip.Setup, data []byte) (int, error) {
	if s.RequestType&0x60 != usbip.RequestTypeStandard {
		return 0, usbip.ErrStall
	}
	reply := func(b []byte) (int, error) { return copy(data, b), nil }
	recipient := s.RequestType & 0x1f
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, usbip.ErrNoDevice
	}
	switch s.Request {
	case usbip.RequestGetStatus:
		st := []byte{0, 0}
		if recipient == usbip.RecipientEndpoint && c.halted[uint8(s.Index)] {
			st[0] = 1
		}
		return reply(st)
	case usbip.RequestClearFeature, usbip.RequestSetFeature:
		if recipient == usbip.RecipientEndpoint && s.Value == usbip.FeatureEndpointHalt {
			c.halted[uint8(s.Index)] = s.Request == usbip.RequestSetFeature
			return 0, nil
		}
		if recipient == usbip.RecipientDevice {
			return 0, nil // remote wakeup, test mode: accepted, no effect
		}
	case usbip.RequestSetAddress:
		return 0, nil
	case usbip.RequestGetDescriptor:
		idx := uint8(s.Value)
		switch s.Value >> 8 {
		case usbip.DescriptorDevice:
			return reply(c.dev)
		case usbip.DescriptorConfig:
			if idx == 0 {
				return reply(c.config)
			}
		case usbip.DescriptorString:
			if idx == 0 {
				return reply([]byte{4, usbip.DescriptorString, 0x09, 0x04})
			}
			if int(idx) <= len(c.strings) {
				return reply(stringDescriptor(c.strings[idx-1]))
			}
		case usbip.DescriptorQualifier:
			return reply(qualifierDescriptor(c.dev))
		}
	case usbip.RequestGetConfiguration:
		return reply([]byte{c.configured})
	case usbip.RequestSetConfiguration:
		if v := uint8(s.Value); v == 0 || v == c.config[5] {
			c.configured = v
			clear(c.halted)
			return 0, nil
		}
	case usbip.RequestGetInterface:
		return reply([]byte{0})
	case usbip.RequestSetInterface:
		if s.Value == 0 {
			clear(c.halted)
			return 0, nil
		}
	}
	return 0, usbip.ErrStall
}

// isoUnsupported is the answer of devices without isochronous endpoints
// (the server never routes to one, since no endpoint is isochronous).
func isoUnsupported() (int, error) { return 0, usbip.ErrStall }
