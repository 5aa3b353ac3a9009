package ztna

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/serialfwd"
	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/usbip"
)

// deviceFlow is the principal handed to the USB/IP and serial servers.
type deviceFlow struct {
	a  *access
	lf *liveFlow
}

// LogValue names the flow in the device servers' logs (a refused USB/IP
// import is logged there with the rule: the protocol cannot carry it).
func (df *deviceFlow) LogValue() slog.Value {
	a := df.a
	attrs := []slog.Attr{slog.String("subject", a.id.Subject.ID), slog.String("device", a.id.Device.ID)}
	if a.res != nil {
		attrs = append(attrs, slog.String("resource", a.res.cfg.Name))
	}
	return slog.GroupValue(attrs...)
}

// serveDeviceFlow admits a connection to a usb or serial resource and
// hands it to that resource's server, whose authorisation hook decides
// each list, import or connection by policy.
func (g *Gateway) serveDeviceFlow(ctx context.Context, st *state, f *tunnel.Flow, a *access) {
	name := lowerName(a.res.cfg.Name)
	g.devMu.Lock()
	u, s := g.usb[name], g.serial[name]
	g.devMu.Unlock()
	if u == nil && s == nil {
		// The resource's device is not exported (unplugged, or its
		// server failed to start): nothing to connect the flow to.
		g.refuse(f, a, ErrNoUpstream)
		return
	}
	if !st.limits.acquire(a.id) {
		g.refuse(f, a, ErrRateLimited)
		return
	}
	defer st.limits.release(a.id)
	conn, err := f.Accept()
	if err != nil {
		return
	}
	lf := &liveFlow{a: a, start: time.Now(), conns: []net.Conn{conn}}
	g.flows.add(lf)
	defer g.flows.remove(lf)
	df := &deviceFlow{a: a, lf: lf}
	cc := &countConn{Conn: conn}
	if u != nil {
		err = u.srv.ServeConn(ctx, cc, df)
	} else {
		err = s.srv.ServeConn(serialfwd.WithPrincipal(ctx, df), cc, a.res.cfg.Name, s.proto)
	}
	lf.mu.Lock()
	decided := lf.hasReq
	lf.mu.Unlock()
	if !decided {
		return // a USB/IP device list: nothing was opened
	}
	fev := g.event(EventFlow, a)
	fev.Effect = "allow"
	fev.BytesIn, fev.BytesOut = cc.in.Load(), cc.out.Load()
	fev.Duration = time.Since(lf.start).Seconds()
	if r := lf.reason(); r != nil {
		fev.Reason = r.Error()
	} else if err != nil && !errors.Is(err, net.ErrClosed) {
		fev.Reason = err.Error()
	}
	g.emit(fev)
}

// decideDevice decides one USB import or list entry, or one serial
// connection, for the flow in principal.
func (g *Gateway) decideDevice(ctx context.Context, principal any, fill func(*policy.Resource), record bool) error {
	df, ok := principal.(*deviceFlow)
	if !ok {
		return fmt.Errorf("%w: no identity", ErrDenied)
	}
	req := g.request(df.a)
	fill(&req.Resource)
	d := g.engine.Decide(ctx, &req)
	why := verdict(&d, &req)
	if why == nil && df.a.res.cfg.Connector != "" && req.Resource.BusID != "" {
		why = g.usbAbsent(df.a.res, req.Resource.BusID)
	}
	if record {
		ev := g.event(EventDecision, df.a)
		ev.Effect, ev.Rule, ev.Request = effectOf(why), d.Rule, req
		if req.Resource.BusID != "" {
			ev.Path = req.Resource.BusID
		}
		if why != nil {
			ev.Reason = why.Error()
		}
		g.emit(ev)
		if why == nil {
			df.lf.setRequest(req, d.Obligations.MaxSession)
		}
	}
	return why
}

func (g *Gateway) authorizeUSB(ctx context.Context, ar usbip.AuthRequest) error {
	return g.decideDevice(ctx, ar.Principal, func(r *policy.Resource) {
		r.BusID = ar.BusID
		r.VendorID = int64(ar.Device.Vendor)
		r.ProductID = int64(ar.Device.Product)
		r.Serial = ar.Device.Serial
	}, ar.Op != usbip.OpList)
}

func (g *Gateway) authorizeSerial(ctx context.Context, ar serialfwd.AuthRequest) error {
	var path string
	g.devMu.Lock()
	if s := g.serial[lowerName(ar.Port)]; s != nil {
		path = s.cfg.Path
	}
	g.devMu.Unlock()
	return g.decideDevice(ctx, ar.Principal, func(r *policy.Resource) { r.SerialPort = path }, true)
}

// countConn counts the bytes of a connection both ways.
type countConn struct {
	net.Conn
	in, out atomic.Uint64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(uint64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(uint64(n))
	return n, err
}
