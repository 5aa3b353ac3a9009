package policy

import (
	"reflect"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	// Conditions such as time.getHours("Europe/Berlin") need the time zone
	// database; embed it so that decisions do not depend on the host's.
	_ "time/tzdata"
)

// Size hints for the static cost estimate: what a condition may assume of
// the request's lists, maps and strings. A request beyond them is still
// decided, under the runtime cost limit.
const (
	hintListLen   = 256
	hintStringLen = 4096
)

// DefaultMaxCost is the static cost bound a condition may have unless
// CompileOptions says otherwise. One unit is roughly one step of evaluation;
// a typical condition costs under 50.
const DefaultMaxCost = 100_000

var envOnce = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			ext.ParseStructTags(true),
			reflect.TypeFor[Subject](),
			reflect.TypeFor[Device](),
			reflect.TypeFor[Source](),
			reflect.TypeFor[Resource](),
			reflect.TypeFor[Risk](),
		),
		cel.Variable("subject", cel.ObjectType("policy.Subject")),
		cel.Variable("device", cel.ObjectType("policy.Device")),
		cel.Variable("source", cel.ObjectType("policy.Source")),
		cel.Variable("resource", cel.ObjectType("policy.Resource")),
		cel.Variable("time", cel.TimestampType),
		cel.Variable("risk", cel.ObjectType("policy.Risk")),
		ext.Network(),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
		cel.ParserRecursionLimit(64),
		cel.ParserExpressionSizeLimit(maxConditionLen),
	)
})

// Env returns the CEL environment conditions compile in: the request
// variables over the Go types of this package, the network, strings, sets
// and lists extensions. It is immutable; derive from it with Extend.
func Env() (*cel.Env, error) { return envOnce() }

// sizeEstimator tells the cost estimator how large request values may be.
type sizeEstimator struct{ list, str uint64 }

func (e sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Path() == nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.ListKind, types.MapKind:
		return &cost.SizeEstimate{Min: 0, Max: e.list}
	case types.StringKind, types.BytesKind:
		return &cost.SizeEstimate{Min: 0, Max: e.str}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
