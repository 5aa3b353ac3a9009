package policy_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gonaut/gonaut/policy"
)

// FuzzParseCompile feeds arbitrary documents through Parse, Compile and a
// decision: any input must give a document or diagnostics, never a panic
// or a hang. The seeds are small documents that between them use every
// key of the format; the shipped templates are covered by their own test.
func FuzzParseCompile(f *testing.F) {
	f.Add([]byte(semantics))
	f.Add([]byte("description: d\nrules:\n  - id: a\n   effect: allow\n"))
	f.Add([]byte("rules:\n  - id: a\n\teffect: allow\n"))
	f.Add([]byte("rules: [{id: a, effect: allow, when: 'subject.groups.all(g, g.size() > 0)'}]"))
	f.Add([]byte("rules:\n  - id: a\n    effect: deny\n    when: |\n      time.getHours('Europe/Berlin') > 3\n"))
	f.Add([]byte("description: d\nrules:\n  - id: r\n    effect: allow\n    resources: {kind: [usb, serial], names: ['a*', b?], labels: {site: lab}}\n" +
		"    obligations: {require_mfa: true, max_session: 2h, log: true}\n" +
		"tests:\n  - name: t\n    expect: allow\n    rule: r\n    request: {resource: {kind: usb, name: ax, labels: {site: lab}}, subject: {mfa: true}, time: '2026-01-01T00:00:00Z'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			// Large inputs only repeat what small ones cover, at the
			// cost of compiling hundreds of conditions per run.
			return
		}
		doc, err := policy.Parse("fuzz.yaml", data)
		if err != nil {
			// Every diagnostic points into the document.
			var ds *policy.Diagnostics
			if errors.As(err, &ds) {
				lines := bytes.Count(data, []byte("\n")) + 1
				for _, d := range ds.List {
					if d.Line < 0 || d.Line > lines || d.Column < 0 {
						t.Fatalf("diagnostic %s outside a %d-line document", d, lines)
					}
				}
			}
			return
		}
		s, err := policy.Compile([]*policy.Document{doc}, &policy.CompileOptions{SkipTests: true})
		if err != nil {
			return
		}
		s.Decide(context.Background(), typicalRequest(1))
		s.Tests(context.Background())
	})
}

// FuzzParseRequest: request JSON comes from files and, through the
// gateway, from the network.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"subject":{"id":"u1","groups":["a"]},"resource":{"kind":"tcp","name":"db"},"time":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"risk":{"score":101}}`))
	f.Add([]byte(`[]`))
	s, err := policy.Compile(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := policy.ParseRequest(data)
		if err != nil {
			return
		}
		if d := s.Decide(context.Background(), r); d.Effect != policy.Deny {
			t.Fatalf("empty set allowed %s", data)
		}
	})
}
