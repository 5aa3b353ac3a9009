package ztna

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// This file owns the access decision: every flow, HTTP request, USB
// import, serial connection and re-decision of a live flow is identified,
// turned into a policy.Request, decided and (but for a recheck) recorded
// here, by decide, and nowhere else. The handlers of the resource kinds
// (stream.go, http.go, devices.go) and the rechecks of live flows
// (liveflows.go) say only what they add, through an accessQuery.

// access is one identified and enriched access attempt: who, from where,
// to what.
type access struct {
	peer  tunnel.Key
	inner netip.AddrPort // the peer's address in the tunnel
	outer netip.AddrPort // the peer's UDP endpoint, when known
	id    Identity
	geo   analytics.Geo
	res   *resource
	srcIP string // source.ip of its policy requests
}

// accessQuery is one access to decide, as the handler of its resource
// kind knows it. Every hook is optional.
type accessQuery struct {
	st *state
	// peer is the authenticated peer, src its address in the tunnel and
	// res the resource it reached; res is nil when the resource was
	// removed since the flow was admitted.
	peer tunnel.Key
	src  netip.AddrPort
	res  *resource

	// within is the access of the admitted flow this one is decided on:
	// an HTTP request on its connection, or a recheck of the flow. The
	// peer is identified again, and within names who the flow belonged
	// to in the record of a refusal that identification itself could not
	// name.
	within *access
	// known is an access already identified, decided as it is: a USB
	// import or serial connection on an admitted flow.
	known *access
	// recheck re-decides the live flow of the access within
	// (liveflows.go): the peer's identity is looked up again, its source
	// stays the one it was admitted from, its resource (res) must still
	// be configured, and last, the request last decided on the flow, is
	// decided again with the identity and risk of now. A recheck is not
	// recorded: a cut is, as EventRevoke.
	recheck bool
	last    *policy.Request
	// undecided admits the access without asking policy, which decides
	// later, per HTTP request or per USB import or serial connection
	// (or, on a recheck, has decided nothing on the flow yet). Only a
	// refusal is recorded.
	undecided bool

	// event is the kind of the recorded event: EventDecision unless set.
	event string
	// quiet records nothing (a USB/IP device list).
	quiet bool
	// start is when the access arrived; the decision's duration is
	// measured from it when it is set.
	start time.Time

	// prepare runs once the peer is identified, before policy is asked:
	// it refuses an access that cannot be decided at all (an HTTP
	// request with a misdirected Host or a bad path, a device with no
	// server).
	prepare func(a *access) error
	// facts adds the kind's facts to the policy request's resource (the
	// HTTP method and path, the USB bus id, the serial port). Its error
	// refuses an access that policy allows: the device is not there now.
	facts func(r *policy.Resource) error
	// flow takes the limits of a new flow (concurrent flows and new
	// flows per second of the user and the device) for the access; the
	// decision then holds them, and its bandwidth limiters, until the
	// handler releases them, unless a later step refused the access.
	flow bool
	// limit takes the other rate limits of an allowed access (an HTTP
	// request's); its error refuses it.
	limit func(a *access) error
	// connect picks or dials the upstream of an access allowed and
	// within its limits, and returns its address for the record; its
	// error refuses the access.
	connect func(ctx context.Context, a *access) (string, error)
	// describe adds the kind's fields to the recorded event.
	describe func(ev *Event)
	// live is the flow the access is decided on: an allowed decision's
	// request and max_session become the ones it is re-decided with.
	live *liveFlow
}

// stage is where the decision of an access ended.
type stage uint8

const (
	stageAdmitted stage = iota // every step passed
	stageIdentify              // the peer or its resource is unknown
	stagePrepare               // prepare refused it
	stagePolicy                // policy refused it, or its device is absent
	stageLimit                 // a rate limit refused it
	stageConnect               // connect refused it
)

// decision is what decide returns: the access, the request decided and
// the verdict with its obligations.
type decision struct {
	a          *access
	identified bool // a names an identity from the directory
	decided    bool // policy was asked; req and rule are its
	req        policy.Request
	rule       string
	// obligations are the allowing rule's, which the handler applies
	// (obligations.MaxSession bounds the flow's live time).
	obligations policy.Obligations
	upstream    string
	// bw are the flow's bandwidth limiters, taken with its flow limits
	// (accessQuery.flow).
	bw    []*rate.Limiter
	why   error // nil admits the access
	stage stage
}

// decide decides one access: identify the peer, build the request with
// the kind's facts, ask policy, apply the obligations the gateway
// enforces itself (MFA), admit it within the limits and to an upstream,
// and record the decision. It is the only caller of the policy engine in
// the package.
func (g *Gateway) decide(ctx context.Context, q *accessQuery) decision {
	d := g.identifyQuery(ctx, q)
	if d.why == nil && q.prepare != nil {
		if err := q.prepare(d.a); err != nil {
			d.why, d.stage = err, stagePrepare
		}
	}
	if d.why == nil && !q.undecided {
		d.ask(ctx, g, q)
	}
	held := false
	if d.why == nil && q.flow {
		if d.bw, held = q.st.limits.admit(d.a.id); !held {
			d.why, d.stage = ErrRateLimited, stageLimit
		}
	}
	if d.why == nil && q.limit != nil {
		if err := q.limit(d.a); err != nil {
			d.why, d.stage = err, stageLimit
		}
	}
	if d.why == nil && q.live != nil && d.decided {
		q.live.setRequest(d.req, d.obligations.MaxSession)
	}
	if d.why == nil && q.connect != nil {
		if d.upstream, d.why = q.connect(ctx, d.a); d.why != nil {
			d.stage = stageConnect
		}
	}
	if d.why != nil && held {
		q.st.limits.release(d.a.id)
	}
	if !q.start.IsZero() && d.stage != stageIdentify && d.stage != stagePrepare {
		g.metrics.latency.Record(ctx, time.Since(q.start).Seconds())
	}
	g.recordDecision(q, &d)
	return d
}

// identifyQuery is the first step of decide: the access of q, identified
// as q says.
func (g *Gateway) identifyQuery(ctx context.Context, q *accessQuery) decision {
	switch {
	case q.known != nil:
		return decision{a: q.known, identified: true}
	case q.recheck:
		// A live flow keeps the source it was admitted from; its
		// identity and resource must still exist.
		a := *q.within
		id, err := q.st.dir.Lookup(ctx, a.peer)
		if err != nil {
			return decision{a: &a, why: err, stage: stageIdentify}
		}
		a.id = id
		if q.res == nil {
			return decision{a: &a, why: errResourceRemoved, stage: stageIdentify}
		}
		return decision{a: &a, identified: true}
	case q.res == nil:
		return decision{a: q.within, why: fmt.Errorf("%w: resource %s removed", ErrDenied, q.within.res.cfg.Name), stage: stageIdentify}
	}
	a, err := g.identify(ctx, q.st, q.peer, q.src, q.res)
	if err != nil {
		if q.within != nil && a.id.Subject.ID == "" {
			a.id = q.within.id // who the connection belonged to, for the record
		}
		return decision{a: a, why: err, stage: stageIdentify}
	}
	return decision{a: a, identified: true}
}

// identify maps a peer to its identity and enriches it with its outer
// address and that address's location.
func (g *Gateway) identify(ctx context.Context, st *state, peer tunnel.Key, src netip.AddrPort, res *resource) (*access, error) {
	a := &access{peer: peer, inner: src, res: res}
	if peer.IsZero() {
		return a, fmt.Errorf("%w: no peer owns %s", ErrUnknownPeer, src.Addr())
	}
	id, err := st.dir.Lookup(ctx, peer)
	if err != nil {
		return a, err
	}
	a.id = id
	a.outer = g.endpoint(peer)
	if a.outer.IsValid() { // formatted once per access, not per policy request
		a.srcIP = a.outer.Addr().String()
	} else {
		a.srcIP = src.Addr().String()
	}
	if g.geo != nil && a.outer.IsValid() {
		if geo, err := g.geo.Lookup(a.outer.Addr()); err == nil {
			a.geo = geo
		}
	}
	return a, nil
}

// ask builds the policy request of d's access (on a recheck: takes the
// last one, with the identity of now), adds the risk of now and the kind's
// facts, asks policy and sets d's verdict.
func (d *decision) ask(ctx context.Context, g *Gateway, q *accessQuery) {
	if q.recheck {
		d.req = *q.last
		d.req.Subject, d.req.Device, d.req.Time = d.a.id.Subject, d.a.id.Device, time.Now()
	} else {
		d.req = g.request(d.a)
	}
	g.enrichRisk(&d.req)
	var absent error
	if q.facts != nil {
		absent = q.facts(&d.req.Resource)
	}
	pd := g.engine.Decide(ctx, &d.req)
	d.decided, d.rule, d.obligations = true, pd.Rule, pd.Obligations
	if d.why = verdict(&pd, &d.req); d.why == nil {
		d.why = absent
	}
	if d.why != nil {
		d.stage = stagePolicy
	}
}

// errResourceRemoved cuts a live flow whose resource is no longer
// configured.
var errResourceRemoved = errors.New("resource removed")

// request is the policy request of an access at now, without its risk.
func (g *Gateway) request(a *access) policy.Request {
	return policy.Request{
		Subject: a.id.Subject,
		Device:  a.id.Device,
		Source:  policy.Source{IP: a.srcIP, Country: a.geo.Country, ASN: int64(a.geo.ASN)},
		Resource: policy.Resource{
			Kind: string(a.res.cfg.Kind), Name: a.res.cfg.Name, Labels: a.res.cfg.Labels,
			Address: a.res.addr.String(), Port: int64(a.res.port),
		},
		Time: time.Now(),
	}
}

// enrichRisk sets req's risk to its subject's current score, when the
// gateway has analytics.
func (g *Gateway) enrichRisk(req *policy.Request) {
	if g.analytics == nil {
		return
	}
	req.Risk = policy.Risk{}
	if req.Subject.ID != "" {
		r := g.analytics.Risk(req.Subject.ID)
		req.Risk = policy.Risk{Score: int64(r.Score), Signals: r.Signals}
	}
}

// verdict is the decision with the obligations the gateway enforces
// itself applied: nil admits the access, an error says why not.
func verdict(d *policy.Decision, req *policy.Request) error {
	if !d.Allowed() {
		if d.Rule == "" {
			return fmt.Errorf("%w: no rule allows it", ErrDenied)
		}
		if desc := d.Description(); desc != "" {
			// The rule's own words tell the person refused what to do.
			return fmt.Errorf("%w: rule %s: %s", ErrDenied, d.Rule, desc)
		}
		return fmt.Errorf("%w: rule %s", ErrDenied, d.Rule)
	}
	if d.Obligations.RequireMFA && !req.Subject.MFA {
		return fmt.Errorf("%w: rule %s", ErrMFARequired, d.Rule)
	}
	return nil
}

// recordDecision records d as q's event: every refusal, and every allow
// that policy decided.
func (g *Gateway) recordDecision(q *accessQuery, d *decision) {
	if q.quiet || q.recheck || (d.why == nil && !d.decided) {
		return
	}
	kind := q.event
	if kind == "" {
		kind = EventDecision
	}
	ev := g.event(kind, d.a)
	ev.Effect = effectOf(d.why)
	if d.decided {
		ev.Rule, ev.Request = d.rule, d.req
		if d.req.Resource.BusID != "" {
			ev.Path = d.req.Resource.BusID
		}
	}
	if q.describe != nil {
		q.describe(ev)
	}
	if d.why != nil {
		ev.Reason = d.why.Error()
	} else {
		ev.Upstream = d.upstream
	}
	g.emit(ev)
}

// event is an event of kind about a, to be completed by the caller.
func (g *Gateway) event(kind string, a *access) *Event {
	ev := &Event{Time: time.Now(), Kind: kind, Subject: a.id.Subject.ID, Device: a.id.Device.ID,
		peerKey: a.peer, outer: a.outer.Addr(), inner: a.inner.Addr()}
	ev.Country, ev.ASN = a.geo.Country, a.geo.ASN
	if a.res != nil {
		ev.Resource, ev.RKind = a.res.cfg.Name, string(a.res.cfg.Kind)
	}
	return ev
}

func effectOf(err error) string {
	if err == nil {
		return "allow"
	}
	return "deny"
}
