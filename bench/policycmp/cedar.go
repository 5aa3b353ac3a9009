package policycmp

import (
	"fmt"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// Cedar is cedar-go, with the request (principal, resource and context
// record) built per decision. Cedar has no time zones, so the hour in
// Europe/Berlin is computed in Go as part of building the request.
type Cedar struct {
	ps       *cedar.PolicySet
	entities cedar.EntityMap
	ids      map[cedar.PolicyID]string // policy id -> @id annotation
}

// NewCedar loads the Cedar translation of the typical set grown to n rules.
func NewCedar(n int) (*Cedar, error) {
	src, err := grown("bench/testdata/typical.cedar", n,
		"\n@id(%q)\npermit (principal, action, resource == Resource::%q)\nwhen { context.kind == \"http\" && context.groups.contains(%q) && context.managed };\n")
	if err != nil {
		return nil, err
	}
	ps, err := cedar.NewPolicySetFromBytes("typical.cedar", []byte(src))
	if err != nil {
		return nil, err
	}
	ids := map[cedar.PolicyID]string{}
	for pid, p := range ps.All() {
		ids[pid] = string(p.Annotations()["id"])
	}
	return &Cedar{ps: ps, entities: cedar.EntityMap{}, ids: ids}, nil
}

func (*Cedar) Name() string { return "cedar-go" }

func (c *Cedar) Decide(in *Input) (Result, error) {
	groups := make([]cedar.Value, len(in.Groups))
	for i, g := range in.Groups {
		groups[i] = cedar.String(g)
	}
	labels := make(cedar.RecordMap, len(in.Labels))
	for k, v := range in.Labels {
		labels[cedar.String(k)] = cedar.String(v)
	}
	ip, err := types.ParseIPAddr(in.IP)
	if err != nil {
		return Result{}, err
	}
	req := cedar.Request{
		Principal: cedar.NewEntityUID("User", cedar.String(in.Subject)),
		Action:    cedar.NewEntityUID("Action", "connect"),
		Resource:  cedar.NewEntityUID("Resource", cedar.String(in.Name)),
		Context: cedar.NewRecord(cedar.RecordMap{
			"groups":         cedar.NewSet(groups...),
			"mfa":            cedar.Boolean(in.MFA),
			"managed":        cedar.Boolean(in.Managed),
			"disk_encrypted": cedar.Boolean(in.DiskEncrypted),
			"ip":             ip,
			"country":        cedar.String(in.Country),
			"kind":           cedar.String(in.Kind),
			"name":           cedar.String(in.Name),
			"labels":         cedar.NewRecord(labels),
			"port":           cedar.Long(in.Port),
			"hour_berlin":    cedar.Long(in.Time.In(berlin).Hour()),
			"risk":           cedar.Long(in.Risk),
		}),
	}
	dec, diag := cedar.Authorize(c.ps, c.entities, req)
	if len(diag.Errors) > 0 {
		return Result{}, fmt.Errorf("cedar: %v", diag.Errors[0])
	}
	matched := map[string]bool{}
	for _, r := range diag.Reasons {
		matched[c.ids[r.PolicyID]] = true
	}
	rule := firstIn(matched, func(id string) bool { return strings.HasPrefix(id, "app-") })
	return Result{Allow: dec == cedar.Allow, Rule: rule}, nil
}
