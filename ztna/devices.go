package ztna

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/serialfwd"
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

// deviceAdmission is an admitted flow to a usb or serial resource, held
// until it is accepted.
type deviceAdmission struct {
	g  *Gateway
	st *state
	a  *access
	u  *usbResource
	s  *serialResource
}

// admitDevice admits a connection to a usb or serial resource within its
// limits. The resource's server then decides each list, import or
// connection on it by policy, through its authorisation hook.
func (g *Gateway) admitDevice(ctx context.Context, q *accessQuery) (decision, admission) {
	da := &deviceAdmission{g: g, st: q.st}
	q.undecided, q.flow = true, true // not throttled: its bandwidth limiters go unused
	q.prepare = func(a *access) error {
		name := lowerName(a.res.cfg.Name)
		g.devMu.Lock()
		da.u, da.s = g.usb[name], g.serial[name]
		g.devMu.Unlock()
		if da.u == nil && da.s == nil {
			// The resource's device is not exported (unplugged, or its
			// server failed to start): nothing to connect the flow to.
			return ErrNoUpstream
		}
		return nil
	}
	d := g.decide(ctx, q)
	if d.why != nil {
		return d, nil
	}
	da.a = d.a
	return d, da
}

func (da *deviceAdmission) abort() { da.st.limits.release(da.a.id) }

// serve hands the connection to the resource's server until it ends, and
// records the flow.
func (da *deviceAdmission) serve(ctx context.Context, conn net.Conn) {
	defer da.st.limits.release(da.a.id)
	g, a := da.g, da.a
	lf := &liveFlow{a: a, start: time.Now(), conns: []net.Conn{conn}}
	g.flows.add(lf)
	df := &deviceFlow{a: a, lf: lf}
	cc := &countConn{Conn: conn}
	var err error
	if da.u != nil {
		err = da.u.srv.ServeConn(usbip.WithPrincipal(ctx, df), cc, nil)
	} else {
		err = da.s.srv.ServeConn(serialfwd.WithPrincipal(ctx, df), cc, a.res.cfg.Name, da.s.proto)
	}
	g.endFlow(lf, cc.in.Load(), cc.out.Load(), err)
}

// decideDevice decides one USB import or list entry, or one serial
// connection, for the flow in principal, with the facts fill adds. A
// list entry (record false) is neither recorded nor the flow's request.
func (g *Gateway) decideDevice(ctx context.Context, principal any, fill func(*policy.Resource), record bool) error {
	df, ok := principal.(*deviceFlow)
	if !ok {
		return fmt.Errorf("%w: no identity", ErrDenied)
	}
	q := &accessQuery{known: df.a, quiet: !record}
	if record {
		q.live = df.lf
	}
	res := df.a.res
	q.facts = func(r *policy.Resource) error {
		fill(r)
		if res.cfg.Connector != "" && r.BusID != "" {
			return g.usbAbsent(res, r.BusID)
		}
		return nil
	}
	return g.decide(ctx, q).why
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
