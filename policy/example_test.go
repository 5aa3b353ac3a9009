package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// Compile a policy once, then decide requests with it.
func Example() {
	doc, err := policy.Parse("wiki.yaml", []byte(`
rules:
  - id: staff-wiki
    description: Staff reach the wiki from managed devices
    effect: allow
    resources: {kind: http, names: ["wiki.*"]}
    when: '"staff" in subject.groups && device.managed'
    obligations: {max_session: 8h}
  - id: deny-risky
    effect: deny
    when: risk.score >= 80
tests:
  - name: staff on a managed laptop
    request:
      subject: {groups: [staff]}
      device: {managed: true}
      resource: {kind: http, name: wiki.corp}
    expect: allow
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := policy.Compile([]*policy.Document{doc}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &policy.Request{
		Subject:  policy.Subject{ID: "ann", Groups: []string{"staff"}},
		Device:   policy.Device{Managed: true},
		Resource: policy.Resource{Kind: "http", Name: "wiki.corp"},
		Time:     time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
	}
	d := set.Decide(context.Background(), req)
	fmt.Println(d.Effect, d.Rule, d.Obligations.MaxSession)
	fmt.Println(d.Explain())

	req.Risk.Score = 95
	d = set.Decide(context.Background(), req)
	fmt.Println(d.Explain())
	// Output:
	// allow staff-wiki 8h0m0s
	// allowed by rule "staff-wiki": Staff reach the wiki from managed devices (session limited to 8h0m0s)
	// denied by rule "deny-risky"; deny overrides the matching allow rule(s) "staff-wiki"
}

// Diagnostics carry the file, line and column of each problem.
func ExampleParse_diagnostics() {
	_, err := policy.LoadFiles(nil, "testdata/typo.yaml")
	fmt.Println(err)
	// Output:
	// testdata/typo.yaml:5:28: rule "eng": undefined field 'grups'
}

// An Engine swaps sets atomically; a set whose tests fail is never put in
// force.
func ExampleEngine() {
	var e policy.Engine
	good, _ := policy.Parse("v1.yaml", []byte("rules: [{id: all, effect: allow}]\n"))
	bad, _ := policy.Parse("v2.yaml", []byte("rules: [{id: all, effect: allow}]\ntests: [{name: must deny, expect: deny, request: {}}]\n"))
	if _, err := e.Load([]*policy.Document{good}, nil); err != nil {
		fmt.Println(err)
	}
	_, err := e.Load([]*policy.Document{bad}, nil)
	fmt.Println(err)
	d := e.Decide(context.Background(), &policy.Request{})
	fmt.Println(d.Effect, d.Rule)
	// Output:
	// v2.yaml:2: test "must deny": expected deny, got allow by rule "all"
	// allow all
}

// Simulate shows which past requests a candidate policy would decide
// differently.
func ExampleSimulate() {
	current, _ := policy.Parse("current.yaml", []byte(`rules: [{id: eng, effect: allow, when: '"eng" in subject.groups'}]`))
	draft, _ := policy.Parse("draft.yaml", []byte(`rules: [{id: eng-mfa, effect: allow, when: '"eng" in subject.groups && subject.mfa'}]`))
	from, _ := policy.Compile([]*policy.Document{current}, nil)
	to, _ := policy.Compile([]*policy.Document{draft}, nil)
	past := []policy.Request{
		{Subject: policy.Subject{ID: "ann", Groups: []string{"eng"}, MFA: true}},
		{Subject: policy.Subject{ID: "bob", Groups: []string{"eng"}}},
	}
	rep, _ := policy.Simulate(context.Background(), from, to, past)
	for _, c := range rep.Changes {
		fmt.Printf("%s: %s (%s) -> %s (%s)\n", c.Request.Subject.ID, c.Before.Effect, c.Before.Rule, c.After.Effect, c.After.Rule)
	}
	fmt.Printf("%d of %d change, %d now denied\n", rep.Changed, rep.Total, rep.NowDenied)
	// Output:
	// ann: allow (eng) -> allow (eng-mfa)
	// bob: allow (eng) -> deny ()
	// 2 of 2 change, 1 now denied
}
