package policycmp

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/rego"
)

// OPA is Open Policy Agent's Rego engine, prepared once and evaluated per
// decision with the input built as a Go map (rego.EvalInput), the way an
// embedding application usually calls it.
type OPA struct{ q rego.PreparedEvalQuery }

// NewOPA loads the Rego translation of the typical set grown to n rules.
func NewOPA(n int) (*OPA, error) {
	src, err := grown("bench/testdata/typical.rego", n,
		"\nallows contains %q if {\n\tinput.resource.kind == \"http\"\n\tinput.resource.name == %q\n\t%q in input.subject.groups\n\tinput.device.managed\n}\n")
	if err != nil {
		return nil, err
	}
	q, err := rego.New(
		rego.Query("data.gonaut.decision"),
		rego.Module("typical.rego", src),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, err
	}
	return &OPA{q: q}, nil
}

func (*OPA) Name() string { return "opa" }

func (o *OPA) Decide(in *Input) (Result, error) {
	groups := make([]any, len(in.Groups))
	for i, g := range in.Groups {
		groups[i] = g
	}
	labels := make(map[string]any, len(in.Labels))
	for k, v := range in.Labels {
		labels[k] = v
	}
	input := map[string]any{
		"subject":  map[string]any{"id": in.Subject, "groups": groups, "mfa": in.MFA},
		"device":   map[string]any{"managed": in.Managed, "disk_encrypted": in.DiskEncrypted},
		"source":   map[string]any{"ip": in.IP, "country": in.Country},
		"resource": map[string]any{"kind": in.Kind, "name": in.Name, "labels": labels, "port": in.Port},
		"time_ns":  in.Time.UnixNano(),
		"risk":     map[string]any{"score": in.Risk},
	}
	rs, err := o.q.Eval(context.Background(), rego.EvalInput(input))
	if err != nil {
		return Result{}, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Result{}, fmt.Errorf("opa: unexpected result %v", rs)
	}
	dec, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Result{}, fmt.Errorf("opa: decision is %T", rs[0].Expressions[0].Value)
	}
	set := func(key string) map[string]bool {
		m := map[string]bool{}
		l, _ := dec[key].([]any)
		for _, v := range l {
			s, _ := v.(string)
			m[s] = true
		}
		return m
	}
	isApp := func(id string) bool { return strings.HasPrefix(id, "app-") }
	if deny := set("deny"); len(deny) > 0 {
		return Result{Allow: false, Rule: firstIn(deny, isApp)}, nil
	}
	if allows := set("allows"); len(allows) > 0 {
		return Result{Allow: true, Rule: firstIn(allows, isApp)}, nil
	}
	return Result{}, nil
}
