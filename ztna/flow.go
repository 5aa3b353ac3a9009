package ztna

import (
	"context"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/gonaut/gonaut/tunnel"
)

// An admission is a flow its kind's handler admitted: what it holds for
// the flow until the flow is accepted and served, or abandoned.
type admission interface {
	// serve carries the accepted connection until the flow ends and
	// releases what the admission holds.
	serve(ctx context.Context, conn net.Conn)
	// abort releases what the admission holds when the flow could not
	// be accepted.
	abort()
}

// handleFlow is the tunnel's FlowHandler: every new flow from a peer. It
// is the one place a flow is accepted or refused: the handler of the
// resource's kind decides it (stream.go, http.go, devices.go, through
// the decision owner in access.go), then handleFlow accepts it and hands
// the connection to that handler, or refuses it.
func (g *Gateway) handleFlow(ctx context.Context, f *tunnel.Flow) {
	start := time.Now()
	st := g.state.Load()
	if g.draining.Load() {
		f.Refuse()
		return
	}
	res := st.byDest[f.Destination]
	if res == nil || (f.Protocol == tunnel.UDP) != (res.cfg.Kind == KindUDP) {
		f.Refuse() // a UDP flow is decided only for a udp resource, and vice versa
		return
	}
	ctx, span := g.tracer.Start(ctx, "ztna.flow")
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("resource", res.cfg.Name), attribute.String("source", f.Source.String()))
	}

	q := &accessQuery{st: st, peer: f.Peer, src: f.Source, res: res}
	var d decision
	var adm admission
	switch {
	case res.cfg.Kind == KindHTTP:
		d, adm = g.admitHTTP(ctx, q)
	case res.cfg.Kind == KindUSB || (res.cfg.Kind == KindSerial && res.cfg.Connector == ""):
		d, adm = g.admitDevice(ctx, q)
	default:
		// tcp, udp, and a serial port on a connector: decided here, its
		// RFC 2217 or raw bytes then pass through to the connector's
		// serial server.
		q.start = start
		d, adm = g.admitStream(ctx, q)
	}
	if d.identified && span.IsRecording() {
		span.SetAttributes(attribute.String("subject", d.a.id.Subject.ID), attribute.String("device", d.a.id.Device.ID))
	}
	if d.why != nil {
		span.SetStatus(codes.Error, d.why.Error())
		f.Refuse()
		return
	}
	conn, err := f.Accept()
	if err != nil {
		adm.abort()
		return
	}
	adm.serve(ctx, conn)
}
