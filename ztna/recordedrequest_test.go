package ztna

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/policy"
)

// A recorded request keeps which credential headers were sent, never their
// values, and leaves the flow's own request untouched.
func TestRecordedRequestRedactsCredentials(t *testing.T) {
	headers := map[string]string{"authorization": "Bearer secret-token", "Cookie": "sid=secret-cookie",
		"x-gonaut-identity": "eyJ.secret.jwt", "accept": "text/html"}
	ev := &Event{Kind: EventRequest, Request: policy.Request{
		Subject:  policy.Subject{ID: "ann", Groups: []string{"eng"}},
		Resource: policy.Resource{Kind: "http", Name: "wiki.corp", Path: "/x", Headers: headers},
	}}
	ev.format()
	out, _ := json.Marshal(ev)
	for _, secret := range []string{"secret-token", "secret-cookie", "secret.jwt"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("recorded event holds %q:\n%s", secret, out)
		}
	}
	h := ev.Request.Resource.Headers
	if h["authorization"] != Redacted || h["Cookie"] != Redacted || h["accept"] != "text/html" {
		t.Errorf("recorded headers %v", h)
	}
	if headers["authorization"] != "Bearer secret-token" {
		t.Error("redaction edited the flow's own request")
	}
	if ev.RequestTrimmed {
		t.Error("a small request was trimmed")
	}
}

// A request beyond MaxRecordedRequest keeps its identity and resource and
// loses its free-form parts, and the event says so.
func TestRecordedRequestIsBounded(t *testing.T) {
	big := map[string]string{"k": strings.Repeat("x", MaxRecordedRequest)}
	ev := &Event{Kind: EventDecision, Request: policy.Request{
		Subject:  policy.Subject{ID: "ann", Attributes: big},
		Resource: policy.Resource{Kind: "tcp", Name: "db.corp", Port: 5432},
	}}
	ev.format()
	if !ev.RequestTrimmed || ev.Request.Subject.Attributes != nil {
		t.Fatalf("oversized request kept: trimmed=%v", ev.RequestTrimmed)
	}
	if ev.Request.Subject.ID != "ann" || ev.Request.Resource.Name != "db.corp" {
		t.Errorf("trimmed request lost its identity: %+v", ev.Request)
	}
	if n := requestSize(&ev.Request); n > MaxRecordedRequest {
		t.Errorf("trimmed request still %d bytes", n)
	}
}
