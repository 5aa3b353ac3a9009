package ztna

import (
	"fmt"
	"sync"

	"github.com/gonaut/gonaut/serialfwd"
	"github.com/gonaut/gonaut/usbip"
	"github.com/gonaut/gonaut/usbip/sim"
)

// usbResource is the USB/IP server of a usb resource.
type usbResource struct {
	srv *usbip.Server
	// sims are the simulated devices from the configuration, by bus id.
	sims map[string]usbSim

	mu sync.Mutex
	// guarded by mu: the devices of a connector, by bus id: those
	// imported from it and exported again, and those gone, with why.
	remote map[string]*remoteUSB
	absent map[string]string
}

type usbSim struct {
	cfg USBDeviceConfig
	dev interface{ Close() error }
}

// serialResource is the serial server of a serial resource.
type serialResource struct {
	srv   *serialfwd.Server
	cfg   SerialConfig
	proto serialfwd.Protocol
}

// attachDevices creates (or keeps, across a reload) the USB/IP or serial
// server of a usb or serial resource.
func (g *Gateway) attachDevices(r *resource, prev *resource) error {
	name := lowerName(r.cfg.Name)
	g.devMu.Lock()
	defer g.devMu.Unlock()
	switch r.cfg.Kind {
	case KindUSB:
		if g.usb == nil {
			g.usb = map[string]*usbResource{}
		}
		u := g.usb[name]
		if u == nil {
			u = &usbResource{sims: map[string]usbSim{}}
			u.srv = usbip.NewServer(&usbip.ServerOptions{
				Logger:    g.log,
				Authorize: g.authorizeUSB,
			})
			g.usb[name] = u
		}
		for _, d := range r.cfg.USB {
			if s, ok := u.sims[d.BusID]; ok && s.cfg == d {
				continue
			}
			var dev usbip.Device
			switch d.Simulate {
			case "keyboard":
				dev = sim.NewKeyboard(d.SerialNumber)
			case "serial":
				dev = sim.NewSerial(d.SerialNumber)
			case "storage":
				dev = sim.NewStorage(d.SerialNumber, 1<<20)
			}
			if old, ok := u.sims[d.BusID]; ok {
				u.srv.Remove(d.BusID)
				old.dev.Close()
			}
			busID, err := u.srv.Add(d.BusID, dev)
			if err != nil {
				return fmt.Errorf("ztna: resource %q: usb device %q: %w", r.cfg.Name, d.BusID, err)
			}
			u.sims[busID] = usbSim{cfg: d, dev: dev.(interface{ Close() error })}
		}
	case KindSerial:
		if r.cfg.Connector != "" {
			return nil // the connector shares the port; the gateway relays
		}
		if g.serial == nil {
			g.serial = map[string]*serialResource{}
		}
		want := *r.cfg.Serial
		if s := g.serial[name]; s != nil && s.cfg == want {
			return nil
		} else if s != nil {
			s.srv.Close()
		}
		proto := serialfwd.ProtocolRFC2217
		if want.Protocol == "raw" {
			proto = serialfwd.ProtocolRaw
		}
		srv := serialfwd.NewServer(&serialfwd.ServerOptions{Logger: g.log, Authorize: g.authorizeSerial})
		lines, _ := serialfwd.ParseModemLines(want.ModemLines) // validated with the config
		if err := srv.AddPort(serialfwd.PortConfig{
			Name:       r.cfg.Name,
			Open:       serialfwd.SerialOpener(want.Path, serialfwd.Mode{BaudRate: want.Baud}),
			ModemLines: lines,
		}); err != nil {
			srv.Close()
			return fmt.Errorf("ztna: resource %q: %w", r.cfg.Name, err)
		}
		g.serial[name] = &serialResource{srv: srv, cfg: want, proto: proto}
	}
	return nil
}

func (g *Gateway) closeDevices() {
	g.devMu.Lock()
	defer g.devMu.Unlock()
	for _, u := range g.usb {
		u.srv.Close()
		for _, s := range u.sims {
			s.dev.Close()
		}
	}
	for _, s := range g.serial {
		s.srv.Close()
	}
}

// AddUSBDevice exports dev (a real device through usbip/hostusb, or a
// simulated one) as busID on the usb resource named resource. Each
// list and import of it is decided by policy with the device's vendor,
// product, serial and bus id in resource.*. It returns the bus id used.
func (g *Gateway) AddUSBDevice(resource, busID string, dev usbip.Device) (string, error) {
	g.devMu.Lock()
	u := g.usb[lowerName(resource)]
	g.devMu.Unlock()
	if u == nil {
		return "", fmt.Errorf("%w: no usb resource %q", ErrInvalidConfig, resource)
	}
	return u.srv.Add(busID, dev)
}

// RemoveUSBDevice stops exporting a device added with AddUSBDevice.
func (g *Gateway) RemoveUSBDevice(resource, busID string) error {
	g.devMu.Lock()
	u := g.usb[lowerName(resource)]
	g.devMu.Unlock()
	if u == nil {
		return fmt.Errorf("%w: no usb resource %q", ErrInvalidConfig, resource)
	}
	return u.srv.Remove(busID)
}
