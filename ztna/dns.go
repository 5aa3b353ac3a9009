package ztna

import (
	"net"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsTTL is the TTL of answers: short, so that a reload that moves or
// removes a resource is seen soon.
const dnsTTL = 30

// serveDNS answers queries for resource names on pc until it is closed.
func (g *Gateway) serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := g.answerDNS(buf[:n]); resp != nil {
			pc.WriteTo(resp, from)
		}
	}
}

// answerDNS builds the response to one query datagram, or nil when the
// datagram is not a query worth answering.
func (g *Gateway) answerDNS(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, OpCode: h.OpCode}
	if h.OpCode != 0 || len(qs) != 1 {
		rh.RCode = dnsmessage.RCodeNotImplemented
		if len(qs) != 1 {
			rh.RCode = dnsmessage.RCodeFormatError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		out, _ := b.Finish()
		return out
	}
	qn := qs[0]
	name := strings.ToLower(strings.TrimSuffix(qn.Name.String(), "."))
	st := g.state.Load()
	r := st.byName[name]
	if r == nil {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(qn)
	b.StartAnswers()
	if r != nil && qn.Class == dnsmessage.ClassINET {
		rrh := dnsmessage.ResourceHeader{Name: qn.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}
		switch {
		case qn.Type == dnsmessage.TypeA && r.addr.Is4():
			b.AResource(rrh, dnsmessage.AResource{A: r.addr.As4()})
		case qn.Type == dnsmessage.TypeAAAA && r.addr.Is6():
			b.AAAAResource(rrh, dnsmessage.AAAAResource{AAAA: r.addr.As16()})
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
