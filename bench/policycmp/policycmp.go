// Package policycmp puts Gonaut's policy engine, OPA (Rego) and cedar-go
// side by side on the same policy: the typical 10-rule set of
// policy/testdata/typical.yaml, and that set grown to thousands of rules
// with one rule per application. Each engine builds its own request from a
// neutral Input on every decision, so request building is measured too.
package policycmp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// Input is one access in neutral form; each engine turns it into its own
// request type per decision.
type Input struct {
	Subject       string
	Groups        []string
	MFA           bool
	Managed       bool
	DiskEncrypted bool
	IP            string
	Country       string
	Kind          string
	Name          string
	Labels        map[string]string
	Port          int
	Time          time.Time
	Risk          int
}

// Result is an engine's answer: the effect and the deciding rule (the
// first matching deny rule, else the first matching allow rule, in the
// order of the Gonaut document).
type Result struct {
	Allow bool
	Rule  string
}

// Engine is one policy engine loaded with the rules.
type Engine interface {
	Name() string
	Decide(in *Input) (Result, error)
}

// RuleOrder is the order of the typical rules; engines that report a set of
// matching rules pick the deciding one by it.
var RuleOrder = []string{
	"deny-high-risk", "deny-unencrypted", "eng-prod", "eng-office-hours", "sales-crm",
	"admins-ssh", "finance-erp", "everyone-intranet", "oncall-any-prod", "deny-embargo",
}

var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

// Typical is the request every benchmark decides: an engineer on a managed,
// encrypted laptop in the office reaching a production database (allowed by
// eng-prod).
func Typical(i int) *Input {
	return &Input{
		Subject: "u-42", Groups: []string{"staff", "eng"}, MFA: true, Managed: true, DiskEncrypted: true,
		IP: "10.1.2.3", Country: "DE", Kind: "tcp", Name: "db-main", Port: 5432,
		Labels: map[string]string{"env": "prod"},
		Time:   time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), Risk: i % 50,
	}
}

// Cases are requests that exercise every rule; all engines must agree on
// them before their speed is worth comparing.
func Cases() []*Input {
	base := func(mod func(*Input)) *Input { in := Typical(1); mod(in); return in }
	return []*Input{
		Typical(1),
		base(func(in *Input) { in.Risk = 85 }),
		base(func(in *Input) { in.DiskEncrypted = false }),
		base(func(in *Input) { in.IP = "192.0.2.1" }),
		base(func(in *Input) { in.Name = "cache-1" }),
		base(func(in *Input) { in.Kind, in.Name, in.Labels = "http", "wiki.corp", nil }),
		base(func(in *Input) {
			in.Kind, in.Name, in.Labels, in.Time = "http", "wiki.corp", nil, in.Time.Add(10*time.Hour)
		}),
		base(func(in *Input) { in.Kind, in.Name, in.Labels, in.Groups = "http", "crm.corp", nil, []string{"sales"} }),
		base(func(in *Input) {
			in.Name, in.Port, in.Labels, in.Groups = "bastion", 22, map[string]string{"role": "server"}, []string{"admins"}
		}),
		base(func(in *Input) {
			in.Name, in.Port, in.Labels, in.Groups, in.MFA = "bastion", 22, map[string]string{"role": "server"}, []string{"admins"}, false
		}),
		base(func(in *Input) { in.Kind, in.Name, in.Labels, in.Groups = "http", "erp.corp", nil, []string{"finance"} }),
		base(func(in *Input) { in.Kind, in.Name, in.Labels, in.Groups = "http", "intranet.corp", nil, nil }),
		base(func(in *Input) { in.Name, in.Groups = "api", []string{"oncall"} }),
		base(func(in *Input) { in.Country = "KP" }),
		base(func(in *Input) {
			in.Kind, in.Name, in.Labels, in.Groups = "http", "app-15.corp", nil, []string{"team-15"}
		}),
	}
}

// AppRule describes the i-th generated application rule (i >= 10): allow
// members of team-(i mod 97) on managed devices to reach app-i.corp over
// HTTP.
func AppRule(i int) (id, name, group string) {
	return fmt.Sprintf("app-%d", i), fmt.Sprintf("app-%d.corp", i), fmt.Sprintf("team-%d", i%97)
}

// grown returns the typical set in one engine's language, read from path,
// followed by application rules up to n rules in all, each written by rule
// from AppRule's id, name and group.
func grown(path string, n int, rule string) (string, error) {
	src, err := testdata(path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Write(src)
	for i := 10; i < n; i++ {
		id, name, group := AppRule(i)
		fmt.Fprintf(&b, rule, id, name, group)
	}
	return b.String(), nil
}

// testdata finds a file under the repository from this package's source.
func testdata(rel string) ([]byte, error) {
	_, file, _, _ := runtime.Caller(0)
	return os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", rel))
}

// Gonaut is the policy engine under test.
type Gonaut struct{ set *policy.Set }

// NewGonaut loads the typical set grown to n rules.
func NewGonaut(n int) (*Gonaut, error) {
	src, err := grown("policy/testdata/typical.yaml", n,
		"  - id: %s\n    effect: allow\n    resources: {kind: http, names: [%s]}\n    when: '\"%s\" in subject.groups && device.managed'\n")
	if err != nil {
		return nil, err
	}
	doc, err := policy.Parse("typical.yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	set, err := policy.Compile([]*policy.Document{doc}, nil)
	if err != nil {
		return nil, err
	}
	return &Gonaut{set: set}, nil
}

func (*Gonaut) Name() string { return "gonaut" }

func (g *Gonaut) Decide(in *Input) (Result, error) {
	r := policy.Request{
		Subject:  policy.Subject{ID: in.Subject, Groups: in.Groups, MFA: in.MFA},
		Device:   policy.Device{Managed: in.Managed, DiskEncrypted: in.DiskEncrypted},
		Source:   policy.Source{IP: in.IP, Country: in.Country},
		Resource: policy.Resource{Kind: in.Kind, Name: in.Name, Labels: in.Labels, Port: int64(in.Port)},
		Time:     in.Time,
		Risk:     policy.Risk{Score: int64(in.Risk)},
	}
	d := g.set.Decide(context.Background(), &r)
	if len(d.Errors) > 0 {
		return Result{}, d.Errors[0]
	}
	return Result{Allow: d.Effect == policy.Allow, Rule: d.Rule}, nil
}

// firstIn returns the first rule of order that is in matched.
func firstIn(matched map[string]bool, extra func(string) bool) string {
	for _, id := range RuleOrder {
		if matched[id] {
			return id
		}
	}
	// Generated app rules come after the typical ones.
	best := ""
	for id := range matched {
		if extra(id) && (best == "" || id < best) {
			best = id
		}
	}
	return best
}
