package analytics

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Kind says what an [Event] records.
type Kind string

const (
	// KindDecision is one policy decision: a request to reach a resource,
	// allowed or denied.
	KindDecision Kind = "decision"
	// KindFlow is one closed flow (a connection, a USB import, a serial
	// session) with its byte counts and duration.
	KindFlow Kind = "flow"
)

// Effect is the outcome of a decision.
type Effect string

const (
	EffectAllow Effect = "allow"
	EffectDeny  Effect = "deny"
)

// Limits on event content. Events outside them are rejected with an error
// wrapping [ErrInvalidEvent].
var (
	// MinTime and MaxTime bound event times: anything earlier than MinTime
	// or not before MaxTime is an absurd timestamp, not an event.
	MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

const (
	// MaxFieldLen bounds the length of the string fields of an Event.
	MaxFieldLen = 512
	// maxBytes bounds byte counters so that sums cannot overflow.
	maxBytes = 1 << 56
)

// An Event is one access: a decision or a closed flow. The gateway emits one
// per decision and one per closed flow; the JSON form (see [Decoder]) uses
// the field names in the struct tags.
//
// Only Time, Subject and Kind are required. Everything else is optional;
// detectors that need a missing field skip the event.
type Event struct {
	Time     time.Time  // when the decision was made or the flow closed
	Subject  string     // the user (or service identity) acting
	Device   string     // the device the subject acts from
	SourceIP netip.Addr // the subject's public source address

	// Country is an ISO 3166-1 alpha-2 code and ASN the source's autonomous
	// system. When they are empty and Options.GeoIP is set, the engine
	// fills them from SourceIP.
	Country string
	ASN     uint32

	// Lat and Lon locate the source when HasLocation is true. AccuracyKM
	// is the radius of uncertainty (0 means precise or unknown). Locations
	// with NaN, infinite or out-of-range coordinates, and the null island
	// (0, 0), are dropped: the event is processed as if it had none.
	Lat, Lon    float64
	HasLocation bool
	AccuracyKM  float64

	Resource string // the resource asked for
	Kind     Kind
	Effect   Effect // allow or deny; flows are allowed by definition
	Rule     string // the deciding policy rule

	// BytesIn counts bytes the subject sent towards the resource, BytesOut
	// bytes the resource sent back to the subject (leaving the protected
	// network: the direction exfiltration is measured in).
	BytesIn, BytesOut uint64
	Duration          time.Duration // of the flow
}

// allowed reports whether the event is an allowed decision or a flow.
func (ev *Event) allowed() bool { return ev.Effect != EffectDeny }

// normalize checks ev and brings it into canonical form in place: upper-case
// country, Effect filled in for flows, absurd locations dropped. It returns
// an error wrapping ErrInvalidEvent for events that cannot be processed.
func (ev *Event) normalize() error {
	if ev.Subject == "" {
		return fmt.Errorf("%w: missing subject", ErrInvalidEvent)
	}
	if ev.Time.IsZero() {
		return fmt.Errorf("%w: missing time", ErrInvalidEvent)
	}
	if ev.Time.Before(MinTime) || !ev.Time.Before(MaxTime) {
		return fmt.Errorf("%w: time %s outside [%d, %d)", ErrInvalidEvent,
			ev.Time.UTC().Format(time.RFC3339), MinTime.Year(), MaxTime.Year())
	}
	for _, f := range [...]struct{ name, v string }{
		{"subject", ev.Subject}, {"device", ev.Device}, {"resource", ev.Resource},
		{"rule", ev.Rule}, {"country", ev.Country},
	} {
		if len(f.v) > MaxFieldLen {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidEvent, f.name, MaxFieldLen)
		}
	}
	switch ev.Kind {
	case KindDecision:
		if ev.Effect != EffectAllow && ev.Effect != EffectDeny {
			return fmt.Errorf("%w: decision effect %q is neither %q nor %q",
				ErrInvalidEvent, ev.Effect, EffectAllow, EffectDeny)
		}
	case KindFlow:
		switch ev.Effect {
		case "":
			ev.Effect = EffectAllow
		case EffectAllow:
		default:
			return fmt.Errorf("%w: flow effect %q (flows are allowed by definition)", ErrInvalidEvent, ev.Effect)
		}
	case "":
		return fmt.Errorf("%w: missing kind", ErrInvalidEvent)
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidEvent, ev.Kind)
	}
	if ev.BytesIn > maxBytes || ev.BytesOut > maxBytes {
		return fmt.Errorf("%w: byte count above 2^56", ErrInvalidEvent)
	}
	if ev.Duration < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidEvent)
	}
	if ev.Country != "" {
		ev.Country = strings.ToUpper(ev.Country)
	}
	if ev.SourceIP.Is4In6() {
		ev.SourceIP = ev.SourceIP.Unmap()
	}
	if ev.HasLocation && !validLocation(ev.Lat, ev.Lon) {
		ev.HasLocation = false
	}
	if math.IsNaN(ev.AccuracyKM) || math.IsInf(ev.AccuracyKM, 0) || ev.AccuracyKM < 0 {
		ev.AccuracyKM = 0
		ev.HasLocation = false
	}
	return nil
}

func validLocation(lat, lon float64) bool {
	switch {
	case math.IsNaN(lat) || math.IsNaN(lon):
		return false
	case lat < -90 || lat > 90 || lon < -180 || lon > 180:
		return false
	case lat == 0 && lon == 0:
		return false // "null island": a failed lookup, not a place
	}
	return true
}

// Internally times are seconds since 2000-01-01 UTC in a uint32, which
// covers [MinTime, MaxTime) and halves the size of every timestamp kept per
// subject.
var epoch = MinTime.Unix()

func stamp(t time.Time) uint32 { return uint32(t.Unix() - epoch) }

func unstamp(s uint32) time.Time { return time.Unix(int64(s)+epoch, 0).UTC() }

// hash64 is FNV-1a over s, never zero (zero marks an empty set slot). It is
// stable across processes, which snapshots rely on.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}

// netKey is the source network an address belongs to: its /24 for IPv4,
// its /48 for IPv6.
func netKey(a netip.Addr) uint64 {
	if !a.IsValid() {
		return 0
	}
	if a.Is4() {
		b := a.As4()
		return 1<<62 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := a.As16()
	k := uint64(2) << 62
	for i := 0; i < 6; i++ {
		k |= uint64(b[i]) << (8 * (5 - i))
	}
	return k
}
