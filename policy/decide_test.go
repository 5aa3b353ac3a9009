package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/policy"
)

const semantics = `
rules:
  - id: allow-eng
    effect: allow
    resources: {kind: tcp}
    when: '"eng" in subject.groups'
    obligations: {max_session: 8h}
  - id: allow-mfa
    effect: allow
    resources: {kind: tcp, names: ["db-*"]}
    when: subject.mfa
    obligations: {require_mfa: true, max_session: 2h}
  - id: deny-contractor-db
    effect: deny
    resources: {names: ["db-*"], labels: {env: prod}}
    when: '"contractors" in subject.groups'
    obligations: {log: true}
  - id: deny-by-attribute
    effect: deny
    resources: {kind: udp}
    when: subject.attributes["clearance"] != "secret"
  - id: allow-by-attribute
    effect: allow
    resources: {kind: http}
    when: subject.attributes["team"] == "web"
  - id: usb-keyboards
    effect: allow
    resources: {kind: usb}
    when: resource.vendor_id == 0x046d
  - id: office-hours
    effect: allow
    resources: {kind: serial}
    when: time.getHours("Europe/Berlin") >= 9 && time.getHours("Europe/Berlin") < 17
  - id: office-network
    effect: allow
    resources: {kind: http, names: [intranet]}
    when: cidr("10.0.0.0/8").containsIP(source.ip) || cidr("2001:db8::/32").containsIP(source.ip)
`

func TestDecideSemantics(t *testing.T) {
	s := mustSet(t, semantics)
	ctx := context.Background()
	prod := map[string]string{"env": "prod"}
	cases := []struct {
		name    string
		req     policy.Request
		effect  policy.Effect
		rule    string
		matches []string
		obl     policy.Obligations
		errs    int
	}{
		{"default deny", policy.Request{Resource: policy.Resource{Kind: "tcp", Name: "web"}}, policy.Deny, "", nil, policy.Obligations{}, 0},
		{"allow by group", policy.Request{Subject: policy.Subject{Groups: []string{"eng"}}, Resource: policy.Resource{Kind: "tcp", Name: "web"}},
			policy.Allow, "allow-eng", []string{"allow-eng"}, policy.Obligations{MaxSession: 8 * time.Hour}, 0},
		{"strictest obligations merge", policy.Request{Subject: policy.Subject{Groups: []string{"eng"}, MFA: true}, Resource: policy.Resource{Kind: "tcp", Name: "db-1"}},
			policy.Allow, "allow-eng", []string{"allow-eng", "allow-mfa"}, policy.Obligations{RequireMFA: true, MaxSession: 2 * time.Hour}, 0},
		{"deny overrides allow", policy.Request{Subject: policy.Subject{Groups: []string{"eng", "contractors"}}, Resource: policy.Resource{Kind: "tcp", Name: "db-1", Labels: prod}},
			policy.Deny, "deny-contractor-db", []string{"allow-eng", "deny-contractor-db"}, policy.Obligations{Log: true}, 0},
		{"label selector must match", policy.Request{Subject: policy.Subject{Groups: []string{"eng", "contractors"}}, Resource: policy.Resource{Kind: "tcp", Name: "db-1"}},
			policy.Allow, "allow-eng", []string{"allow-eng"}, policy.Obligations{MaxSession: 8 * time.Hour}, 0},
		{"glob does not match", policy.Request{Subject: policy.Subject{MFA: true}, Resource: policy.Resource{Kind: "tcp", Name: "xdb-1"}}, policy.Deny, "", nil, policy.Obligations{}, 0},
		{"failing deny denies", policy.Request{Resource: policy.Resource{Kind: "udp", Name: "dns"}}, policy.Deny, "deny-by-attribute", []string{"deny-by-attribute"}, policy.Obligations{}, 1},
		{"failing allow does not allow", policy.Request{Resource: policy.Resource{Kind: "http", Name: "app"}}, policy.Deny, "", nil, policy.Obligations{}, 1},
		{"attribute present allows", policy.Request{Subject: policy.Subject{Attributes: map[string]string{"team": "web"}}, Resource: policy.Resource{Kind: "http", Name: "app"}},
			policy.Allow, "allow-by-attribute", []string{"allow-by-attribute"}, policy.Obligations{}, 0},
		{"usb vendor id", policy.Request{Resource: policy.Resource{Kind: "usb", VendorID: 0x046d}}, policy.Allow, "usb-keyboards", []string{"usb-keyboards"}, policy.Obligations{}, 0},
		{"usb other vendor", policy.Request{Resource: policy.Resource{Kind: "usb", VendorID: 0x1234}}, policy.Deny, "", nil, policy.Obligations{}, 0},
		// 08:30 UTC is 09:30 in Berlin in winter: inside office hours.
		{"time zone in hours", policy.Request{Resource: policy.Resource{Kind: "serial"}, Time: time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)},
			policy.Allow, "office-hours", []string{"office-hours"}, policy.Obligations{}, 0},
		{"outside hours in Berlin", policy.Request{Resource: policy.Resource{Kind: "serial"}, Time: time.Date(2026, 1, 5, 7, 30, 0, 0, time.UTC)},
			policy.Deny, "", nil, policy.Obligations{}, 0},
		{"cidr v4", policy.Request{Source: policy.Source{IP: "10.9.8.7"}, Resource: policy.Resource{Kind: "http", Name: "intranet"}}, policy.Allow, "office-network", nil, policy.Obligations{}, 1},
		{"cidr v6", policy.Request{Source: policy.Source{IP: "2001:db8::5"}, Resource: policy.Resource{Kind: "http", Name: "intranet"}}, policy.Allow, "office-network", nil, policy.Obligations{}, 1},
		{"cidr outside", policy.Request{Source: policy.Source{IP: "192.0.2.1"}, Resource: policy.Resource{Kind: "http", Name: "intranet"}}, policy.Deny, "", nil, policy.Obligations{}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := s.Decide(ctx, &c.req)
			if d.Effect != c.effect || d.Rule != c.rule {
				t.Fatalf("got %s by %q, want %s by %q: %s", d.Effect, d.Rule, c.effect, c.rule, d.Explain())
			}
			if c.matches != nil {
				var got []string
				for _, m := range d.Matches() {
					got = append(got, m.Rule)
				}
				if strings.Join(got, ",") != strings.Join(c.matches, ",") {
					t.Errorf("matches %v, want %v", got, c.matches)
				}
			}
			if d.Obligations != c.obl {
				t.Errorf("obligations %+v, want %+v", d.Obligations, c.obl)
			}
			if len(d.Errors) != c.errs {
				t.Errorf("%d errors, want %d: %v", len(d.Errors), c.errs, d.Errors)
			}
			if d.Version != s.Version() {
				t.Errorf("version %q, want %q", d.Version, s.Version())
			}
			if d.Explain() == "" {
				t.Error("empty explanation")
			}
		})
	}
}

func TestExplain(t *testing.T) {
	s := mustSet(t, semantics)
	d := s.Decide(context.Background(), &policy.Request{
		Subject:  policy.Subject{Groups: []string{"eng", "contractors"}},
		Resource: policy.Resource{Kind: "tcp", Name: "db-1", Labels: map[string]string{"env": "prod"}},
	})
	e := d.Explain()
	for _, want := range []string{`denied by rule "deny-contractor-db"`, `overrides`, `"allow-eng"`} {
		if !strings.Contains(e, want) {
			t.Errorf("explanation %q lacks %q", e, want)
		}
	}
	d = s.Decide(context.Background(), &policy.Request{Resource: policy.Resource{Kind: "udp"}})
	if e := d.Explain(); !strings.Contains(e, "failed to evaluate") {
		t.Errorf("explanation of a failed deny %q does not say so", e)
	}
}

func TestCancelledContextFailsClosed(t *testing.T) {
	// A condition that loops over request data is evaluated under the
	// context; a cancelled one must fail it, and a failing deny denies.
	s := mustSetOpts(t, &policy.CompileOptions{MaxCost: 30_000_000}, `
rules:
  - id: allow-all
    effect: allow
  - id: deny-loop
    effect: deny
    when: subject.groups.exists(g, subject.roles.exists(r, g == r))
`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	groups := make([]string, 2000)
	roles := make([]string, 2000)
	for i := range groups {
		groups[i], roles[i] = fmt.Sprint("g", i), fmt.Sprint("r", i)
	}
	d := s.Decide(ctx, &policy.Request{Subject: policy.Subject{Groups: groups, Roles: roles}})
	if d.Effect != policy.Deny || len(d.Errors) != 1 {
		t.Fatalf("got %s with errors %v, want deny by a failed rule", d.Effect, d.Errors)
	}
}

func TestRuntimeCostLimitFailsClosed(t *testing.T) {
	s := mustSetOpts(t, &policy.CompileOptions{MaxCost: 30_000_000}, `
rules:
  - id: allow-unless-match
    effect: allow
    when: '!subject.groups.exists(g, subject.roles.exists(r, g == r))'
`)
	// Strings far longer than the static estimate's hints: the runtime
	// limit must stop the loop, and a failed allow does not allow.
	big := make([]string, 300)
	other := make([]string, 300)
	for i := range big {
		big[i] = fmt.Sprint("g", i, strings.Repeat("x", 50_000))
		other[i] = fmt.Sprint("r", i, strings.Repeat("x", 50_000))
	}
	d := s.Decide(context.Background(), &policy.Request{Subject: policy.Subject{Groups: big, Roles: other}})
	if d.Effect != policy.Deny || len(d.Errors) != 1 {
		t.Fatalf("got %s, errors %v; want deny with a cost error", d.Effect, d.Errors)
	}
	d = s.Decide(context.Background(), &policy.Request{Subject: policy.Subject{Groups: big[:3], Roles: other[:3]}})
	if d.Effect != policy.Allow {
		t.Fatalf("small request: %s %v", d.Effect, d.Errors)
	}
}

func TestDecideDoesNotModifyRequest(t *testing.T) {
	s := mustSet(t, semantics)
	r := policy.Request{Resource: policy.Resource{Kind: "serial"}}
	s.Decide(context.Background(), &r)
	if !r.Time.IsZero() {
		t.Error("Decide filled in the caller's request time")
	}
}

func TestIndexDoesNotLoseRules(t *testing.T) {
	// The index must find exactly the rules a linear scan would.
	s := mustSet(t, manyRules(500))
	ctx := context.Background()
	for i := 10; i < 500; i += 37 {
		r := typicalRequest(i)
		r.Subject.Groups = []string{fmt.Sprint("team-", i%97)}
		r.Resource = policy.Resource{Kind: "http", Name: fmt.Sprintf("app-%d.corp", i)}
		d := s.Decide(ctx, r)
		if d.Effect != policy.Allow || d.Rule != fmt.Sprint("app-", i) {
			t.Errorf("app-%d: got %s by %q", i, d.Effect, d.Rule)
		}
		r.Resource.Kind = "tcp"
		if d := s.Decide(ctx, r); d.Rule == fmt.Sprint("app-", i) {
			t.Errorf("app-%d matched a tcp resource", i)
		}
	}
}

func TestEngineReloadIsAtomic(t *testing.T) {
	var e policy.Engine
	ctx := context.Background()
	if d := e.Decide(ctx, &policy.Request{}); d.Effect != policy.Deny || len(d.Errors) != 1 || !errors.Is(d.Errors[0], policy.ErrNoSet) {
		t.Fatalf("empty engine: %+v", d)
	}
	allowAll, _ := policy.Parse("a.yaml", []byte("rules: [{id: all, effect: allow}]\n"))
	denyAll, _ := policy.Parse("d.yaml", []byte("rules: [{id: none, effect: deny}]\n"))
	broken, _ := policy.Parse("b.yaml", []byte("rules: [{id: x, effect: allow}]\ntests: [{name: t, expect: deny, request: {}}]\n"))
	first, err := e.Load([]*policy.Document{allowAll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load([]*policy.Document{broken}, nil); !errors.Is(err, policy.ErrTestsFailed) {
		t.Fatalf("broken set: %v", err)
	}
	if e.Set() != first {
		t.Fatal("a set whose tests failed replaced the set in force")
	}

	// Decide concurrently with reloads: every decision is made wholly by
	// one of the two sets.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := e.Decide(ctx, &policy.Request{})
				if (d.Rule == "all") != (d.Effect == policy.Allow) || (d.Rule != "all" && d.Rule != "none") {
					t.Errorf("torn decision %+v", d)
					return
				}
			}
		}()
	}
	for i := range 200 {
		docs := []*policy.Document{allowAll}
		if i%2 == 0 {
			docs = []*policy.Document{denyAll}
		}
		if _, err := e.Load(docs, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if v1, v2 := mustSet(t, "rules: [{id: all, effect: allow}]\n").Version(), mustSet(t, "rules: [{id: all, effect: allow}]\n").Version(); v1 != v2 {
		t.Errorf("equal documents gave versions %s and %s", v1, v2)
	}
}

func TestSimulate(t *testing.T) {
	from := mustSet(t, `
rules:
  - {id: eng, effect: allow, when: '"eng" in subject.groups'}
`)
	to := mustSet(t, `
rules:
  - {id: eng-mfa, effect: allow, when: '"eng" in subject.groups && subject.mfa'}
  - {id: sales, effect: allow, when: '"sales" in subject.groups'}
`)
	reqs := []policy.Request{
		{Subject: policy.Subject{ID: "a", Groups: []string{"eng"}, MFA: true}}, // rule changes
		{Subject: policy.Subject{ID: "b", Groups: []string{"eng"}}},            // now denied
		{Subject: policy.Subject{ID: "c", Groups: []string{"sales"}}},          // now allowed
		{Subject: policy.Subject{ID: "d", Groups: []string{"hr"}}},             // unchanged
	}
	rep, err := policy.Simulate(context.Background(), from, to, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != 4 || rep.Changed != 3 || rep.NowAllowed != 1 || rep.NowDenied != 1 || rep.RuleOnly != 1 {
		t.Fatalf("report %+v", rep)
	}
	want := []string{"a:allow(eng)->allow(eng-mfa)", "b:allow(eng)->deny()", "c:deny()->allow(sales)"}
	for i, c := range rep.Changes {
		got := fmt.Sprintf("%s:%s(%s)->%s(%s)", c.Request.Subject.ID, c.Before.Effect, c.Before.Rule, c.After.Effect, c.After.Rule)
		if got != want[i] {
			t.Errorf("change %d: %s, want %s", i, got, want[i])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := policy.Simulate(ctx, from, to, reqs); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled simulation: %v", err)
	}
}

func TestManyMatchesAndJSON(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 9 {
		fmt.Fprintf(&b, "  - {id: r%d, effect: allow, obligations: {max_session: %dh}}\n", i, 9-i)
	}
	s := mustSet(t, b.String())
	d := s.Decide(context.Background(), &policy.Request{})
	ms := d.Matches()
	if len(ms) != 9 || d.Rule != "r0" || d.Obligations.MaxSession != time.Hour {
		t.Fatalf("rule %q, %d matches, obligations %+v", d.Rule, len(ms), d.Obligations)
	}
	for i, m := range ms {
		if m.Rule != fmt.Sprint("r", i) || m.Effect != policy.Allow {
			t.Errorf("match %d is %+v", i, m)
		}
	}
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Effect      string
		Rule        string
		Matches     []policy.Match
		Obligations struct {
			MaxSession string `json:"max_session"`
		}
	}
	if err := json.Unmarshal(js, &back); err != nil || back.Effect != "allow" || back.Rule != "r0" || len(back.Matches) != 9 || back.Obligations.MaxSession != "1h0m0s" {
		t.Fatalf("json %s (%v)", js, err)
	}
}

// TestConstantCollectionsDoNotFailOpen: a generated, empty blocklist must
// still evaluate its element. A request without the attribute makes the
// deny rule fail, and a failed deny denies; folding "x in []" to false
// let the engineers' allow rule through.
func TestConstantCollectionsDoNotFailOpen(t *testing.T) {
	for _, when := range []string{
		`subject.attributes["team"] in []`,
		`subject.attributes["team"] in {}`,
		`!("x" in ["x", subject.attributes["team"]]) || subject.attributes["team"] in []`,
		`time.getHours("No/Such_Zone") in []`,
		`device.attributes["os"] in [] || "web" in ["web", subject.attributes["team"]]`,
	} {
		t.Run(when, func(t *testing.T) {
			doc, err := policy.Parse("blocklist.yaml", []byte("rules:\n"+
				"  - id: blocked\n    effect: deny\n    when: '"+strings.ReplaceAll(when, "'", "''")+"'\n"+
				"  - id: engineers\n    effect: allow\n    when: '\"eng\" in subject.groups'\n"))
			if err != nil {
				t.Fatal(err)
			}
			var e policy.Engine
			if _, err := e.Load([]*policy.Document{doc}, nil); err != nil {
				t.Fatal(err)
			}
			d := e.Decide(context.Background(), &policy.Request{Subject: policy.Subject{ID: "u1", Groups: []string{"eng"}}})
			if d.Effect != policy.Deny || d.Rule != "blocked" || len(d.Errors) != 1 {
				t.Fatalf("decided %s by %q with %d error(s), want deny by the failed blocklist: %s", d.Effect, d.Rule, len(d.Errors), d.Explain())
			}
		})
	}
}

// TestZonedTimesReadInUTC: getHours() without a zone is UTC, whether the
// condition runs on the fast path or in CEL, and whatever zone the
// request's times carry (time.Now is local).
func TestZonedTimesReadInUTC(t *testing.T) {
	s := mustSet(t, "rules:\n"+
		"  - {id: fast, effect: allow, resources: {kind: tcp}, when: 'time.getHours() == 5 && subject.auth_time.getHours() == 5'}\n"+
		"  - {id: cel, effect: allow, resources: {kind: udp}, when: '[time.getHours()][0] == 5 && [subject.auth_time.getHours()][0] == 5'}\n")
	at := time.Date(2026, 3, 2, 7, 30, 0, 0, time.FixedZone("", 2*3600)) // 05:30 UTC
	for _, kind := range []string{"tcp", "udp"} {
		d := s.Decide(context.Background(), &policy.Request{Time: at, Subject: policy.Subject{AuthTime: at}, Resource: policy.Resource{Kind: kind}})
		if d.Effect != policy.Allow {
			t.Errorf("kind %s: %s", kind, d.Explain())
		}
	}
}

// TestCompileRejectsEditedKinds: a rule whose kinds were edited after
// Parse to hold "" would be indexed as a rule for every kind; Compile
// refuses it instead of widening it.
func TestCompileRejectsEditedKinds(t *testing.T) {
	doc, err := policy.Parse("k.yaml", []byte("rules:\n  - {id: usb-only, effect: allow, resources: {kind: usb}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	doc.Rules[0].Resources.Kinds = []string{""}
	if _, err := policy.Compile([]*policy.Document{doc}, nil); !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("compiled a rule with kind \"\": %v", err)
	}
}

// A refusal carries the deciding rule's description, in its author's words,
// so the person refused reads why and what to do; default deny has none.
func TestDecisionDescription(t *testing.T) {
	doc, err := policy.Parse("d.yaml", []byte(`rules:
  - id: stale
    description: Posture is stale; run the posture check again
    effect: deny
    when: device.managed == false
  - id: quiet
    effect: allow
    when: device.managed
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := policy.Compile([]*policy.Document{doc}, &policy.CompileOptions{SkipTests: true})
	if err != nil {
		t.Fatal(err)
	}
	d := s.Decide(context.Background(), &policy.Request{Resource: policy.Resource{Kind: "tcp", Name: "db"}})
	if d.Rule != "stale" || d.Description() != "Posture is stale; run the posture check again" {
		t.Errorf("deny by stale: rule %q, description %q", d.Rule, d.Description())
	}
	d = s.Decide(context.Background(), &policy.Request{Device: policy.Device{Managed: true}, Resource: policy.Resource{Kind: "tcp", Name: "db"}})
	if d.Rule != "quiet" || d.Description() != "" {
		t.Errorf("allow by quiet: rule %q, description %q", d.Rule, d.Description())
	}
	var none policy.Decision
	if none.Description() != "" {
		t.Error("the zero decision has a description")
	}
}
