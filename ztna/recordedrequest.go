package ztna

import (
	"maps"
	"strings"

	"github.com/gonaut/gonaut/policy"
)

// MaxRecordedRequest bounds the request a decision event records, in bytes
// of its strings. A larger one keeps its subject, device, source and
// resource identity but loses its headers and free-form attributes (and,
// if that is not enough, its groups, roles and risk signals), and the event
// says so (Event.RequestTrimmed); replays of it may then differ.
const MaxRecordedRequest = 8 << 10

// redactedHeaders carry credentials: a recorded request keeps that they
// were present, never their value.
var redactedHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true,
	"x-api-key": true, "x-auth-token": true, "x-csrf-token": true,
	strings.ToLower(IdentityHeader): true,
}

// Redacted replaces the value of a credential header in a recorded request.
const Redacted = "[redacted]"

// recordRequest redacts and bounds the request of a decision event in
// place and reports whether it had to be trimmed. The maps are replaced,
// not edited: the flow's own request may still use them.
func recordRequest(r *policy.Request) (trimmed bool) {
	if h := r.Resource.Headers; len(h) > 0 {
		var out map[string]string
		for k := range h {
			if redactedHeaders[strings.ToLower(k)] {
				if out == nil {
					out = maps.Clone(h)
				}
				out[k] = Redacted
			}
		}
		if out != nil {
			r.Resource.Headers = out
		}
	}
	if requestSize(r) > MaxRecordedRequest {
		r.Resource.Headers = nil
		r.Subject.Attributes = nil
		r.Device.Attributes = nil
		r.Resource.Labels = nil
		if requestSize(r) > MaxRecordedRequest {
			r.Subject.Groups, r.Subject.Roles, r.Risk.Signals = nil, nil, nil
		}
		return true
	}
	return false
}

// requestSize is the length of a request's strings.
func requestSize(r *policy.Request) int {
	n := len(r.Subject.ID) + len(r.Subject.Email) + len(r.Device.ID) + len(r.Device.OS) +
		len(r.Device.OSVersion) + len(r.Device.ClientVersion) + len(r.Source.IP) + len(r.Source.Country) +
		len(r.Resource.Kind) + len(r.Resource.Name) + len(r.Resource.Address) + len(r.Resource.Method) +
		len(r.Resource.Path) + len(r.Resource.Host) + len(r.Resource.Serial) + len(r.Resource.BusID) +
		len(r.Resource.SerialPort)
	for _, l := range [][]string{r.Subject.Groups, r.Subject.Roles, r.Risk.Signals} {
		for _, s := range l {
			n += len(s)
		}
	}
	for _, m := range []map[string]string{r.Subject.Attributes, r.Device.Attributes, r.Resource.Labels, r.Resource.Headers} {
		for k, v := range m {
			n += len(k) + len(v)
		}
	}
	return n
}
