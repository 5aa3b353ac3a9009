package ztna

import (
	"net/netip"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

// Event kinds.
const (
	// EventDecision is one policy decision on a new flow.
	EventDecision = "decision"
	// EventRequest is one policy decision on an HTTP request.
	EventRequest = "request"
	// EventFlow is one closed flow, with its bytes and duration.
	EventFlow = "flow"
	// EventRevoke is a live flow cut by a re-decision.
	EventRevoke = "revoke"
	// EventAlert is an alert raised by the gateway's analytics; the
	// event's Alert holds it.
	EventAlert = "alert"
)

// Event is one entry of the audit trail: a decision, an HTTP request's
// decision, a revocation, a closed flow or an analytics alert.
type Event struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Subject  string    `json:"subject,omitempty"`
	Device   string    `json:"device,omitempty"`
	Peer     string    `json:"peer,omitempty"`   // WireGuard public key
	Source   string    `json:"source,omitempty"` // the peer's outer address
	Inner    string    `json:"inner,omitempty"`  // the peer's address in the tunnel
	Country  string    `json:"country,omitempty"`
	ASN      uint32    `json:"asn,omitempty"`
	Resource string    `json:"resource,omitempty"`
	RKind    string    `json:"resource_kind,omitempty"`
	Method   string    `json:"method,omitempty"`
	Path     string    `json:"path,omitempty"`
	Effect   string    `json:"effect,omitempty"` // allow or deny
	Rule     string    `json:"rule,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Upstream string    `json:"upstream,omitempty"`
	BytesIn  uint64    `json:"bytes_in,omitempty"`  // peer to resource
	BytesOut uint64    `json:"bytes_out,omitempty"` // resource to peer
	Duration float64   `json:"duration_s,omitempty"`
	// Alert is the analytics alert of an EventAlert, raised by the
	// event recorded just before it.
	Alert *analytics.Alert `json:"alert,omitempty"`
	// Request is the request policy decided, on decision and request
	// events: what a what-if simulation replays. Credentials in it are
	// redacted and its size is bounded (see RecordedRequest).
	Request policy.Request `json:"request,omitzero"`
	// RequestTrimmed says Request lost its headers and attributes to the
	// size bound.
	RequestTrimmed bool `json:"request_trimmed,omitempty"`

	// Set on the flow's path and turned into Peer, Source and Inner by
	// the event writer, so that formatting stays off that path.
	peerKey      tunnel.Key
	outer, inner netip.Addr
}

// format fills in the text fields that the flow's path left raw, and
// redacts and bounds the recorded request.
func (ev *Event) format() {
	ev.RequestTrimmed = recordRequest(&ev.Request)
	if ev.Peer == "" && !ev.peerKey.IsZero() {
		ev.Peer = ev.peerKey.String()
	}
	if ev.Source == "" && ev.outer.IsValid() {
		ev.Source = ev.outer.String()
	}
	if ev.Inner == "" && ev.inner.IsValid() {
		ev.Inner = ev.inner.String()
	}
}
