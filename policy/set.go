package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// A Set is a compiled, tested policy: the rules of one or more documents.
// It is immutable and safe for concurrent use; decide with it as often as
// you like. Build one with Compile or LoadFiles.
type Set struct {
	rules   []*rule
	index   index
	version string
	docs    []string
	source  []*Document
	adapter types.Adapter
}

// rule is a compiled Rule.
type rule struct {
	id          string
	description string
	effect      Effect
	obligations Obligations
	kinds       []string
	names       []glob
	labels      []label
	always      bool // no condition
	bounded     bool // the program tracks cost at run time
	prg         cel.Program
	fast        boolFn // the condition as Go closures, when it is in the fast path's subset
	cost        uint64
	file        string
	line        int
}

type label struct{ key, value string }

// selects reports whether the rule's name and label selectors match.
// Kinds were matched by the index.
func (r *rule) selects(res *Resource) bool {
	if len(r.names) > 0 {
		ok := false
		for _, g := range r.names {
			if g.match(res.Name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, l := range r.labels {
		if got, ok := res.Labels[l.key]; !ok || got != l.value {
			return false
		}
	}
	return true
}

// Version is a content hash of the documents the set was built from: equal
// documents give equal versions.
func (s *Set) Version() string { return s.version }

// Len is the number of rules in the set.
func (s *Set) Len() int { return len(s.rules) }

// Documents are the names of the documents the set was built from.
func (s *Set) Documents() []string { return append([]string(nil), s.docs...) }

// A Decision is the answer to one request.
type Decision struct {
	// Effect is Allow or Deny.
	Effect Effect `json:"effect"`
	// Rule is the id of the deciding rule: the first matching deny rule, or
	// else the first matching allow rule. Empty when nothing matched and
	// the request was denied by default.
	Rule string `json:"rule"`
	// Obligations are merged from the matching rules of the deciding
	// effect, the strictest value of each.
	Obligations Obligations `json:"obligations,omitzero"`
	// Errors are the conditions that failed to evaluate.
	Errors []*RuleError `json:"-"`
	// Version is the version of the set that decided.
	Version string `json:"version"`
	// Considered is how many rules selected the resource and had their
	// conditions evaluated.
	Considered int `json:"considered"`

	set *Set
	// The matching rules, by position in the set: inline for the usual
	// handful, so that a decision allocates nothing; more spill over.
	n     int
	first [inlineMatches]matchRef
	more  []matchRef
}

const inlineMatches = 6

type matchRef struct {
	rule   int32
	failed bool
}

func (d *Decision) addMatch(m matchRef) {
	if d.n < inlineMatches {
		d.first[d.n] = m
	} else {
		d.more = append(d.more, m)
	}
	d.n++
}

func (d *Decision) match(i int) matchRef {
	if i < inlineMatches {
		return d.first[i]
	}
	return d.more[i-inlineMatches]
}

// Matches returns every rule that matched, in set order. A deny rule whose
// condition failed to evaluate is among them (it denies).
func (d *Decision) Matches() []Match {
	if d.n == 0 {
		return nil
	}
	out := make([]Match, d.n)
	for i := range out {
		m := d.match(i)
		r := d.set.rules[m.rule]
		out[i] = Match{Rule: r.id, Effect: r.effect, Failed: m.failed}
	}
	return out
}

// MarshalJSON writes the decision with its matches.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain struct {
		Effect      Effect      `json:"effect"`
		Rule        string      `json:"rule"`
		Matches     []Match     `json:"matches,omitempty"`
		Obligations Obligations `json:"obligations,omitzero"`
		Version     string      `json:"version"`
		Considered  int         `json:"considered"`
	}
	return json.Marshal(plain{d.Effect, d.Rule, d.Matches(), d.Obligations, d.Version, d.Considered})
}

// A Match is one rule that matched a request.
type Match struct {
	Rule   string `json:"rule"`
	Effect Effect `json:"effect"`
	// Failed is true when the rule counts as matching only because its
	// condition failed to evaluate (a deny rule fails closed).
	Failed bool `json:"failed,omitempty"`
}

// Allowed reports whether the decision is Allow.
func (d *Decision) Allowed() bool { return d.Effect == Allow }

// Description is the deciding rule's description: why, in the policy
// author's words, and what to do about it, for a refusal a person reads.
// It is "" when no rule decided (default deny) or the rule has none.
func (d *Decision) Description() string {
	if d.set == nil || d.Rule == "" {
		return ""
	}
	for i := 0; i < d.n; i++ {
		if r := d.set.rules[d.match(i).rule]; r.id == d.Rule {
			return r.description
		}
	}
	return ""
}

// activation resolves the request variables for CEL without building a
// map. Each variable is converted to a CEL value once per decision, on
// first use, and shared by every rule evaluated for it.
type activation struct {
	r    *Request
	now  time.Time
	conv types.Adapter
	vals [nvars]ref.Val
}

const (
	varSubject = iota
	varDevice
	varSource
	varResource
	varTime
	varRisk
	nvars
)

func (a *activation) ResolveName(name string) (any, bool) {
	var i int
	switch name {
	case "subject":
		i = varSubject
	case "device":
		i = varDevice
	case "source":
		i = varSource
	case "resource":
		i = varResource
	case "time":
		i = varTime
	case "risk":
		i = varRisk
	default:
		return nil, false
	}
	if v := a.vals[i]; v != nil {
		return v, true
	}
	var v ref.Val
	switch i {
	case varSubject:
		v = a.conv.NativeToValue(&a.r.Subject)
	case varDevice:
		v = a.conv.NativeToValue(&a.r.Device)
	case varSource:
		v = a.conv.NativeToValue(&a.r.Source)
	case varResource:
		v = a.conv.NativeToValue(&a.r.Resource)
	case varTime:
		v = types.Timestamp{Time: a.now}
	case varRisk:
		v = a.conv.NativeToValue(&a.r.Risk)
	}
	a.vals[i] = v
	return v, true
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Decide evaluates the set against a request. Deny overrides allow; without
// a matching allow rule the request is denied. A condition that fails to
// evaluate never allows, and a deny rule whose condition fails denies. ctx
// bounds evaluation: a cancelled context fails the conditions still running.
//
// Decide never modifies r. A zero r.Time is taken as the current time.
func (s *Set) Decide(ctx context.Context, r *Request) Decision {
	d := Decision{Version: s.version, set: s}
	ec := evalCtx{r: r, now: r.Time}
	if ec.now.IsZero() {
		ec.now = time.Now()
	}
	// The CEL activation is built only if a condition outside the fast
	// path needs it.
	var act *activation
	var buf [32]int32
	cands := s.index.candidates(buf[:0], &r.Resource)
	var firstAllow, firstDeny *rule
	for _, i := range cands {
		rl := s.rules[i]
		if !rl.selects(&r.Resource) {
			continue
		}
		d.Considered++
		matched, failed := true, false
		if !rl.always {
			var err error
			if rl.fast != nil {
				matched, err = rl.fast(ec)
			} else {
				if act == nil {
					act = &activation{r: r, now: ec.now, conv: s.adapter}
				}
				matched, err = rl.eval(ctx, act)
			}
			if err != nil {
				d.Errors = append(d.Errors, &RuleError{Rule: rl.id, Err: err})
				// Fail closed: a failed deny denies, a failed allow
				// does not allow.
				matched, failed = rl.effect == Deny, true
			}
		}
		if !matched {
			continue
		}
		d.addMatch(matchRef{rule: i, failed: failed})
		if rl.effect == Deny && firstDeny == nil {
			firstDeny = rl
		} else if rl.effect == Allow && firstAllow == nil {
			firstAllow = rl
		}
	}
	switch {
	case firstDeny != nil:
		d.Effect, d.Rule = Deny, firstDeny.id
	case firstAllow != nil:
		d.Effect, d.Rule = Allow, firstAllow.id
	default:
		return d
	}
	for i := range d.n {
		if r := s.rules[d.match(i).rule]; r.effect == d.Effect {
			d.Obligations = d.Obligations.merge(r.obligations)
		}
	}
	return d
}

func (r *rule) eval(ctx context.Context, act *activation) (bool, error) {
	var out any
	var err error
	if r.bounded && ctx.Done() != nil {
		v, _, e := r.prg.ContextEval(ctx, act)
		out, err = v, e
	} else {
		v, _, e := r.prg.Eval(act)
		out, err = v, e
	}
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition gave %v, not a bool", out)
	}
	return bool(b), nil
}

// merge returns the stricter of each obligation.
func (o Obligations) merge(p Obligations) Obligations {
	o.RequireMFA = o.RequireMFA || p.RequireMFA
	o.Log = o.Log || p.Log
	if p.MaxSession > 0 && (o.MaxSession == 0 || p.MaxSession < o.MaxSession) {
		o.MaxSession = p.MaxSession
	}
	return o
}

// Explain says in a sentence or two why the decision came out as it did.
func (d *Decision) Explain() string {
	var b strings.Builder
	desc := func(id string) string {
		for i := range d.n {
			if r := d.set.rules[d.match(i).rule]; r.id == id && r.description != "" {
				return ": " + r.description
			}
		}
		return ""
	}
	switch {
	case d.Rule == "":
		fmt.Fprintf(&b, "denied by default: no allow rule matched (%d rule(s) selected the resource; none of their conditions held)", d.Considered)
	case d.Effect == Deny:
		fmt.Fprintf(&b, "denied by rule %q%s", d.Rule, desc(d.Rule))
		for _, m := range d.Matches() {
			if m.Rule == d.Rule && m.Failed {
				b.WriteString(" (its condition failed to evaluate, so it denies)")
			}
		}
		var over []string
		for _, m := range d.Matches() {
			if m.Effect == Allow {
				over = append(over, fmt.Sprintf("%q", m.Rule))
			}
		}
		if len(over) > 0 {
			fmt.Fprintf(&b, "; deny overrides the matching allow rule(s) %s", strings.Join(over, ", "))
		}
	default:
		fmt.Fprintf(&b, "allowed by rule %q%s", d.Rule, desc(d.Rule))
	}
	if o := d.Obligations; d.Effect == Allow && (o.RequireMFA || o.MaxSession > 0 || o.Log) {
		var parts []string
		if o.RequireMFA {
			parts = append(parts, "MFA required")
		}
		if o.MaxSession > 0 {
			parts = append(parts, "session limited to "+o.MaxSession.String())
		}
		if o.Log {
			parts = append(parts, "logged")
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	for _, e := range d.Errors {
		fmt.Fprintf(&b, "; rule %q failed to evaluate: %v", e.Rule, e.Err)
	}
	return b.String()
}
