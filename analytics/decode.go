package analytics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// MaxLineLen bounds one JSON line read by a [Decoder].
const MaxLineLen = 64 << 10

// wireEvent is the JSON form of an Event. Pointers tell absent fields from
// zero values where that matters.
type wireEvent struct {
	Time       string   `json:"time"`
	Subject    string   `json:"subject"`
	Device     string   `json:"device"`
	SourceIP   string   `json:"source_ip"`
	Country    string   `json:"country"`
	ASN        uint32   `json:"asn"`
	Lat        *float64 `json:"lat"`
	Lon        *float64 `json:"lon"`
	AccuracyKM float64  `json:"accuracy_km"`
	Resource   string   `json:"resource"`
	Kind       string   `json:"kind"`
	Effect     string   `json:"effect"`
	Rule       string   `json:"rule"`
	BytesIn    uint64   `json:"bytes_in"`
	BytesOut   uint64   `json:"bytes_out"`
	DurationMS int64    `json:"duration_ms"`
}

// A Decoder reads events from a stream of JSON objects, one per line, with
// the fields time (RFC 3339), subject, device, source_ip, country, asn,
// lat, lon, accuracy_km, resource, kind, effect, rule, bytes_in, bytes_out
// and duration_ms. Unknown fields are ignored; blank lines are skipped.
//
// A line that is not valid JSON, exceeds MaxLineLen, or describes an
// invalid event yields a *DecodeError; the Decoder stays usable and the
// next call reads the next line. Decode is not safe for concurrent use.
type Decoder struct {
	r    *bufio.Reader
	line int
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Decode reads the next event into ev. It returns io.EOF at the end of the
// stream, a *DecodeError for a bad line, or the reader's error.
func (d *Decoder) Decode(ev *Event) error {
	for {
		line, err := d.readLine()
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := ParseEvent(line, ev); err != nil {
			return &DecodeError{Line: d.line, Err: err}
		}
		return nil
	}
}

var errLineTooLong = fmt.Errorf("%w: line longer than %d bytes", ErrInvalidEvent, MaxLineLen)

func (d *Decoder) readLine() ([]byte, error) {
	d.line++
	line, err := d.r.ReadSlice('\n')
	switch {
	case err == nil:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		// Skip the rest of an over-long line, then report it.
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = d.r.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		return nil, &DecodeError{Line: d.line, Err: errLineTooLong}
	case err == io.EOF && len(line) > 0:
		return line, nil // last line without a newline
	default:
		return nil, err
	}
}

// ParseEvent decodes one JSON object into ev and checks it as Observe
// would. The error wraps ErrInvalidEvent.
func ParseEvent(data []byte, ev *Event) error {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	*ev = Event{
		Subject: w.Subject, Device: w.Device, Country: w.Country, ASN: w.ASN,
		AccuracyKM: w.AccuracyKM, Resource: w.Resource, Kind: Kind(w.Kind), Effect: Effect(w.Effect),
		Rule: w.Rule, BytesIn: w.BytesIn, BytesOut: w.BytesOut,
	}
	if w.Time == "" {
		return fmt.Errorf("%w: missing time", ErrInvalidEvent)
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return fmt.Errorf("%w: time: %v", ErrInvalidEvent, err)
	}
	ev.Time = t
	if w.SourceIP != "" {
		a, err := netip.ParseAddr(w.SourceIP)
		if err != nil {
			return fmt.Errorf("%w: source_ip: %v", ErrInvalidEvent, err)
		}
		ev.SourceIP = a
	}
	if (w.Lat == nil) != (w.Lon == nil) {
		return fmt.Errorf("%w: lat and lon must come together", ErrInvalidEvent)
	}
	if w.Lat != nil {
		ev.Lat, ev.Lon, ev.HasLocation = *w.Lat, *w.Lon, true
	}
	if w.DurationMS < 0 || w.DurationMS > int64(time.Duration(1<<62)/time.Millisecond) {
		return fmt.Errorf("%w: duration_ms out of range", ErrInvalidEvent)
	}
	ev.Duration = time.Duration(w.DurationMS) * time.Millisecond
	return ev.normalize()
}

// MarshalJSON encodes the event in the form the Decoder reads.
func (ev Event) MarshalJSON() ([]byte, error) {
	w := wireEvent{
		Time: ev.Time.UTC().Format(time.RFC3339Nano), Subject: ev.Subject, Device: ev.Device,
		Country: ev.Country, ASN: ev.ASN, AccuracyKM: ev.AccuracyKM, Resource: ev.Resource,
		Kind: string(ev.Kind), Effect: string(ev.Effect), Rule: ev.Rule,
		BytesIn: ev.BytesIn, BytesOut: ev.BytesOut, DurationMS: ev.Duration.Milliseconds(),
	}
	if ev.SourceIP.IsValid() {
		w.SourceIP = ev.SourceIP.String()
	}
	if ev.HasLocation {
		lat, lon := ev.Lat, ev.Lon
		w.Lat, w.Lon = &lat, &lon
	}
	return json.Marshal(compactWire(w))
}

// compactWire drops empty optional fields from the output.
type compactWireEvent struct {
	Time       string   `json:"time"`
	Subject    string   `json:"subject"`
	Device     string   `json:"device,omitempty"`
	SourceIP   string   `json:"source_ip,omitempty"`
	Country    string   `json:"country,omitempty"`
	ASN        uint32   `json:"asn,omitempty"`
	Lat        *float64 `json:"lat,omitempty"`
	Lon        *float64 `json:"lon,omitempty"`
	AccuracyKM float64  `json:"accuracy_km,omitempty"`
	Resource   string   `json:"resource,omitempty"`
	Kind       string   `json:"kind"`
	Effect     string   `json:"effect,omitempty"`
	Rule       string   `json:"rule,omitempty"`
	BytesIn    uint64   `json:"bytes_in,omitempty"`
	BytesOut   uint64   `json:"bytes_out,omitempty"`
	DurationMS int64    `json:"duration_ms,omitempty"`
}

func compactWire(w wireEvent) compactWireEvent { return compactWireEvent(w) }
