package policy

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// The fast path compiles the conditions most policies are made of —
// boolean logic over comparisons of request fields with constants, list and
// map membership, map lookups, CIDR tests, hours of the day in a zone,
// timestamp differences — into Go closures over the Request, bypassing
// CEL's interpreter and its conversion of the request into CEL values.
// Anything outside that subset is evaluated by CEL. The closures follow
// CEL's semantics exactly, errors included (&& and || absorb an error when
// the other side decides, a missing map key is an error, timestamp
// arithmetic that overflows is an error); FuzzFastPathMatchesCEL holds
// them to it.

type evalCtx struct {
	r   *Request
	now time.Time
}

type (
	boolFn func(evalCtx) (bool, error)
	intFn  func(evalCtx) (int64, error)
	strFn  func(evalCtx) (string, error)
	strsFn func(evalCtx) ([]string, error)
	mapFn  func(evalCtx) (map[string]string, error)
	tsFn   func(evalCtx) (time.Time, error)
	durFn  func(evalCtx) (time.Duration, error)
)

var errNoSuchKey = errors.New("no such key")

// fastCompile returns a closure for the checked condition, or nil when it
// uses anything outside the fast path's subset.
func fastCompile(a *cel.Ast) boolFn {
	nat := a.NativeRep()
	if nat == nil {
		return nil
	}
	return compileBool(nat.Expr())
}

// field tables: "variable.field" to an accessor of the right type.
var (
	boolFields = map[string]func(*Request) bool{
		"subject.mfa":           func(r *Request) bool { return r.Subject.MFA },
		"device.managed":        func(r *Request) bool { return r.Device.Managed },
		"device.disk_encrypted": func(r *Request) bool { return r.Device.DiskEncrypted },
		"device.firewall":       func(r *Request) bool { return r.Device.Firewall },
		"device.screen_lock":    func(r *Request) bool { return r.Device.ScreenLock },
	}
	intFields = map[string]func(*Request) int64{
		"source.asn":          func(r *Request) int64 { return r.Source.ASN },
		"resource.port":       func(r *Request) int64 { return r.Resource.Port },
		"resource.vendor_id":  func(r *Request) int64 { return r.Resource.VendorID },
		"resource.product_id": func(r *Request) int64 { return r.Resource.ProductID },
		"risk.score":          func(r *Request) int64 { return r.Risk.Score },
	}
	strFields = map[string]func(*Request) string{
		"subject.id":            func(r *Request) string { return r.Subject.ID },
		"subject.email":         func(r *Request) string { return r.Subject.Email },
		"device.id":             func(r *Request) string { return r.Device.ID },
		"device.os":             func(r *Request) string { return r.Device.OS },
		"device.os_version":     func(r *Request) string { return r.Device.OSVersion },
		"device.client_version": func(r *Request) string { return r.Device.ClientVersion },
		"device.posture_source": func(r *Request) string { return r.Device.PostureSource },
		"source.ip":             func(r *Request) string { return r.Source.IP },
		"source.country":        func(r *Request) string { return r.Source.Country },
		"resource.kind":         func(r *Request) string { return r.Resource.Kind },
		"resource.name":         func(r *Request) string { return r.Resource.Name },
		"resource.address":      func(r *Request) string { return r.Resource.Address },
		"resource.method":       func(r *Request) string { return r.Resource.Method },
		"resource.path":         func(r *Request) string { return r.Resource.Path },
		"resource.host":         func(r *Request) string { return r.Resource.Host },
		"resource.serial":       func(r *Request) string { return r.Resource.Serial },
		"resource.bus_id":       func(r *Request) string { return r.Resource.BusID },
		"resource.serial_port":  func(r *Request) string { return r.Resource.SerialPort },
	}
	strsFields = map[string]func(*Request) []string{
		"subject.groups": func(r *Request) []string { return r.Subject.Groups },
		"subject.roles":  func(r *Request) []string { return r.Subject.Roles },
		"risk.signals":   func(r *Request) []string { return r.Risk.Signals },
	}
	mapFields = map[string]func(*Request) map[string]string{
		"subject.attributes": func(r *Request) map[string]string { return r.Subject.Attributes },
		"device.attributes":  func(r *Request) map[string]string { return r.Device.Attributes },
		"resource.labels":    func(r *Request) map[string]string { return r.Resource.Labels },
		"resource.headers":   func(r *Request) map[string]string { return r.Resource.Headers },
	}
	tsFields = map[string]func(*Request) time.Time{
		"subject.auth_time":   func(r *Request) time.Time { return r.Subject.AuthTime },
		"device.posture_time": func(r *Request) time.Time { return r.Device.PostureTime },
	}
)

// fieldPath returns "variable.field" for a select on a request variable.
func fieldPath(e ast.Expr) (string, bool) {
	if e.Kind() != ast.SelectKind || e.AsSelect().IsTestOnly() {
		return "", false
	}
	s := e.AsSelect()
	if s.Operand().Kind() != ast.IdentKind {
		return "", false
	}
	return s.Operand().AsIdent() + "." + s.FieldName(), true
}

func literal(e ast.Expr) (ref.Val, bool) {
	if e.Kind() != ast.LiteralKind {
		return nil, false
	}
	return e.AsLiteral(), true
}

func compileBool(e ast.Expr) boolFn {
	if v, ok := literal(e); ok {
		b, ok := v.(types.Bool)
		if !ok {
			return nil
		}
		return func(evalCtx) (bool, error) { return bool(b), nil }
	}
	if p, ok := fieldPath(e); ok {
		if f := boolFields[p]; f != nil {
			return func(c evalCtx) (bool, error) { return f(c.r), nil }
		}
		return nil
	}
	if e.Kind() == ast.SelectKind && e.AsSelect().IsTestOnly() {
		// has(map.key)
		s := e.AsSelect()
		m := compileMap(s.Operand())
		if m == nil {
			return nil
		}
		key := s.FieldName()
		return func(c evalCtx) (bool, error) {
			mv, err := m(c)
			if err != nil {
				return false, err
			}
			_, ok := mv[key]
			return ok, nil
		}
	}
	if e.Kind() != ast.CallKind {
		return nil
	}
	call := e.AsCall()
	args := call.Args()
	switch fn := call.FunctionName(); {
	case fn == operators.LogicalAnd || fn == operators.LogicalOr:
		if len(args) != 2 {
			return nil
		}
		l, r := compileBool(args[0]), compileBool(args[1])
		if l == nil || r == nil {
			return nil
		}
		decisive := fn == operators.LogicalOr // the value that decides alone
		return func(c evalCtx) (bool, error) {
			lv, le := l(c)
			if le == nil && lv == decisive {
				return decisive, nil
			}
			rv, re := r(c)
			if re == nil && rv == decisive {
				return decisive, nil
			}
			if le != nil {
				return false, le
			}
			if re != nil {
				return false, re
			}
			return !decisive, nil
		}
	case fn == operators.LogicalNot && len(args) == 1:
		x := compileBool(args[0])
		if x == nil {
			return nil
		}
		return func(c evalCtx) (bool, error) {
			v, err := x(c)
			return !v, err
		}
	case fn == operators.Equals || fn == operators.NotEquals || fn == operators.Less ||
		fn == operators.LessEquals || fn == operators.Greater || fn == operators.GreaterEquals:
		if len(args) != 2 {
			return nil
		}
		return compileCompare(fn, args[0], args[1])
	case fn == operators.In && len(args) == 2:
		return compileIn(args[0], args[1])
	case fn == "startsWith" || fn == "endsWith" || fn == "contains":
		if !call.IsMemberFunction() || len(args) != 1 {
			return nil
		}
		s, sub := compileStr(call.Target()), compileStr(args[0])
		if s == nil || sub == nil {
			return nil
		}
		op := map[string]func(string, string) bool{"startsWith": strings.HasPrefix, "endsWith": strings.HasSuffix, "contains": strings.Contains}[fn]
		return func(c evalCtx) (bool, error) {
			a, err := s(c)
			if err != nil {
				return false, err
			}
			b, err := sub(c)
			if err != nil {
				return false, err
			}
			return op(a, b), nil
		}
	case fn == "containsIP":
		if !call.IsMemberFunction() || len(args) != 1 {
			return nil
		}
		prefix, ok := constCIDR(call.Target())
		if !ok {
			return nil
		}
		ip := compileStr(args[0])
		if ip == nil {
			return nil
		}
		return func(c evalCtx) (bool, error) {
			s, err := ip(c)
			if err != nil {
				return false, err
			}
			addr, err := netip.ParseAddr(s)
			if err != nil || addr.Zone() != "" || addr.Is4In6() {
				return false, fmt.Errorf("IP address %q is not valid", s)
			}
			return prefix.Contains(addr), nil
		}
	}
	return nil
}

// constCIDR reads cidr("...") with a constant argument, with the network
// extension's rules: no zones, no IPv4-mapped IPv6. Anything it would
// reject at run time stays with CEL.
func constCIDR(e ast.Expr) (netip.Prefix, bool) {
	if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != "cidr" || len(e.AsCall().Args()) != 1 || e.AsCall().IsMemberFunction() {
		return netip.Prefix{}, false
	}
	v, ok := literal(e.AsCall().Args()[0])
	if !ok {
		return netip.Prefix{}, false
	}
	s, ok := v.(types.String)
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(string(s))
	if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return netip.Prefix{}, false
	}
	return p, true
}

func compileCompare(fn string, a, b ast.Expr) boolFn {
	if x, y := compileInt(a), compileInt(b); x != nil && y != nil {
		return cmp2(fn, x, y, func(p, q int64) int { return compareOrdered(p, q) })
	}
	if x, y := compileStr(a), compileStr(b); x != nil && y != nil {
		return cmp2(fn, x, y, strings.Compare)
	}
	if x, y := compileDur(a), compileDur(b); x != nil && y != nil {
		return cmp2(fn, x, y, func(p, q time.Duration) int { return compareOrdered(p, q) })
	}
	if x, y := compileTs(a), compileTs(b); x != nil && y != nil {
		return cmp2(fn, x, y, func(p, q time.Time) int { return p.Compare(q) })
	}
	if fn == operators.Equals || fn == operators.NotEquals {
		if x, y := compileBool(a), compileBool(b); x != nil && y != nil {
			return cmp2(fn, x, y, func(p, q bool) int {
				if p == q {
					return 0
				}
				return 1
			})
		}
	}
	return nil
}

func compareOrdered[T int64 | time.Duration](p, q T) int {
	switch {
	case p < q:
		return -1
	case p > q:
		return 1
	}
	return 0
}

func cmp2[T any](fn string, x, y func(evalCtx) (T, error), cmp func(T, T) int) boolFn {
	var test func(int) bool
	switch fn {
	case operators.Equals:
		test = func(c int) bool { return c == 0 }
	case operators.NotEquals:
		test = func(c int) bool { return c != 0 }
	case operators.Less:
		test = func(c int) bool { return c < 0 }
	case operators.LessEquals:
		test = func(c int) bool { return c <= 0 }
	case operators.Greater:
		test = func(c int) bool { return c > 0 }
	case operators.GreaterEquals:
		test = func(c int) bool { return c >= 0 }
	}
	return func(c evalCtx) (bool, error) {
		p, err := x(c)
		if err != nil {
			return false, err
		}
		q, err := y(c)
		if err != nil {
			return false, err
		}
		return test(cmp(p, q)), nil
	}
}

func compileIn(elem, coll ast.Expr) boolFn {
	if s := compileStr(elem); s != nil {
		if l := compileStrs(coll); l != nil {
			return func(c evalCtx) (bool, error) {
				v, err := s(c)
				if err != nil {
					return false, err
				}
				list, err := l(c)
				if err != nil {
					return false, err
				}
				for _, x := range list {
					if x == v {
						return true, nil
					}
				}
				return false, nil
			}
		}
		if m := compileMap(coll); m != nil {
			return func(c evalCtx) (bool, error) {
				v, err := s(c)
				if err != nil {
					return false, err
				}
				mv, err := m(c)
				if err != nil {
					return false, err
				}
				_, ok := mv[v]
				return ok, nil
			}
		}
		return nil
	}
	if i := compileInt(elem); i != nil {
		vals, ok := constInts(coll)
		if !ok {
			return nil
		}
		return func(c evalCtx) (bool, error) {
			v, err := i(c)
			if err != nil {
				return false, err
			}
			for _, x := range vals {
				if x == v {
					return true, nil
				}
			}
			return false, nil
		}
	}
	return nil
}

// constList returns the elements of a list written out as literals.
func constList(e ast.Expr) ([]ref.Val, bool) {
	if e.Kind() != ast.ListKind {
		return nil, false
	}
	l := e.AsList()
	if len(l.OptionalIndices()) > 0 {
		return nil, false
	}
	out := make([]ref.Val, 0, l.Size())
	for _, el := range l.Elements() {
		v, ok := literal(el)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func constInts(e ast.Expr) ([]int64, bool) {
	vals, ok := constList(e)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(vals))
	for i, v := range vals {
		n, ok := v.(types.Int)
		if !ok {
			return nil, false
		}
		out[i] = int64(n)
	}
	return out, true
}

func compileStrs(e ast.Expr) strsFn {
	if p, ok := fieldPath(e); ok {
		if f := strsFields[p]; f != nil {
			return func(c evalCtx) ([]string, error) { return f(c.r), nil }
		}
		return nil
	}
	vals, ok := constList(e)
	if !ok {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		s, ok := v.(types.String)
		if !ok {
			return nil
		}
		out[i] = string(s)
	}
	return func(evalCtx) ([]string, error) { return out, nil }
}

func compileMap(e ast.Expr) mapFn {
	if p, ok := fieldPath(e); ok {
		if f := mapFields[p]; f != nil {
			return func(c evalCtx) (map[string]string, error) { return f(c.r), nil }
		}
	}
	return nil
}

func compileStr(e ast.Expr) strFn {
	if v, ok := literal(e); ok {
		s, ok := v.(types.String)
		if !ok {
			return nil
		}
		return func(evalCtx) (string, error) { return string(s), nil }
	}
	if p, ok := fieldPath(e); ok {
		if f := strFields[p]; f != nil {
			return func(c evalCtx) (string, error) { return f(c.r), nil }
		}
		return nil
	}
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.Index && len(e.AsCall().Args()) == 2 {
		m, k := compileMap(e.AsCall().Args()[0]), compileStr(e.AsCall().Args()[1])
		if m == nil || k == nil {
			return nil
		}
		return func(c evalCtx) (string, error) {
			mv, err := m(c)
			if err != nil {
				return "", err
			}
			key, err := k(c)
			if err != nil {
				return "", err
			}
			v, ok := mv[key]
			if !ok {
				return "", fmt.Errorf("%w: %s", errNoSuchKey, key)
			}
			return v, nil
		}
	}
	return nil
}

func compileInt(e ast.Expr) intFn {
	if v, ok := literal(e); ok {
		n, ok := v.(types.Int)
		if !ok {
			return nil
		}
		return func(evalCtx) (int64, error) { return int64(n), nil }
	}
	if p, ok := fieldPath(e); ok {
		if f := intFields[p]; f != nil {
			return func(c evalCtx) (int64, error) { return f(c.r), nil }
		}
		return nil
	}
	if e.Kind() != ast.CallKind {
		return nil
	}
	call := e.AsCall()
	switch call.FunctionName() {
	case "getHours", "getDayOfWeek", "getMinutes":
		if !call.IsMemberFunction() || len(call.Args()) > 1 {
			return nil
		}
		ts := compileTs(call.Target())
		if ts == nil {
			return nil
		}
		loc := time.UTC
		if len(call.Args()) == 1 {
			v, ok := literal(call.Args()[0])
			if !ok {
				return nil
			}
			name, ok := v.(types.String)
			// Offsets such as "+01:00" follow CEL's own rules; leave
			// them to CEL.
			if !ok || name == "" || strings.ContainsAny(string(name), ":+") || strings.HasPrefix(string(name), "-") {
				return nil
			}
			l, err := time.LoadLocation(string(name))
			if err != nil {
				return nil
			}
			loc = l
		}
		part := map[string]func(time.Time) int64{
			"getHours":     func(t time.Time) int64 { return int64(t.Hour()) },
			"getMinutes":   func(t time.Time) int64 { return int64(t.Minute()) },
			"getDayOfWeek": func(t time.Time) int64 { return int64(t.Weekday()) },
		}[call.FunctionName()]
		return func(c evalCtx) (int64, error) {
			t, err := ts(c)
			if err != nil {
				return 0, err
			}
			return part(t.In(loc)), nil
		}
	case "size":
		var arg ast.Expr
		switch {
		case call.IsMemberFunction() && len(call.Args()) == 0:
			arg = call.Target()
		case !call.IsMemberFunction() && len(call.Args()) == 1:
			arg = call.Args()[0]
		default:
			return nil
		}
		if l := compileStrs(arg); l != nil {
			return func(c evalCtx) (int64, error) { v, err := l(c); return int64(len(v)), err }
		}
		if m := compileMap(arg); m != nil {
			return func(c evalCtx) (int64, error) { v, err := m(c); return int64(len(v)), err }
		}
		if s := compileStr(arg); s != nil {
			return func(c evalCtx) (int64, error) {
				v, err := s(c)
				return int64(utf8.RuneCountInString(v)), err
			}
		}
	}
	return nil
}

func compileTs(e ast.Expr) tsFn {
	if e.Kind() == ast.IdentKind && e.AsIdent() == "time" {
		return func(c evalCtx) (time.Time, error) { return c.now, nil }
	}
	if p, ok := fieldPath(e); ok {
		if f := tsFields[p]; f != nil {
			return func(c evalCtx) (time.Time, error) {
				t := f(c.r)
				if t.IsZero() {
					// CEL reads an unset timestamp field as the epoch.
					return unixEpoch, nil
				}
				return t, nil
			}
		}
	}
	return nil
}

var unixEpoch = time.Unix(0, 0).UTC()

func compileDur(e ast.Expr) durFn {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == "duration" && len(e.AsCall().Args()) == 1 && !e.AsCall().IsMemberFunction() {
		// duration("24h"), parsed once here; a string CEL would reject
		// stays with CEL, which fails at run time.
		v, ok := literal(e.AsCall().Args()[0])
		if !ok {
			return nil
		}
		s, ok := v.(types.String)
		if !ok {
			return nil
		}
		d, ok := types.String(s).ConvertToType(types.DurationType).(types.Duration)
		if !ok {
			return nil
		}
		return func(evalCtx) (time.Duration, error) { return d.Duration, nil }
	}
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.Subtract && len(e.AsCall().Args()) == 2 {
		x, y := compileTs(e.AsCall().Args()[0]), compileTs(e.AsCall().Args()[1])
		if x == nil || y == nil {
			return nil
		}
		return func(c evalCtx) (time.Duration, error) {
			a, err := x(c)
			if err != nil {
				return 0, err
			}
			b, err := y(c)
			if err != nil {
				return 0, err
			}
			return subtractTimes(a, b)
		}
	}
	return nil
}

var errOverflow = errors.New("integer overflow")

// subtractTimes is a-b as CEL computes it: an error, not a saturated
// duration, when the difference does not fit.
func subtractTimes(a, b time.Time) (time.Duration, error) {
	sec1, nsec1 := a.Truncate(time.Second).Unix(), a.Sub(a.Truncate(time.Second)).Nanoseconds()
	sec2, nsec2 := b.Truncate(time.Second).Unix(), b.Sub(b.Truncate(time.Second)).Nanoseconds()
	sec := sec1 - sec2
	if (sec2 > 0 && sec1 < math.MinInt64+sec2) || (sec2 < 0 && sec1 > math.MaxInt64+sec2) {
		return 0, errOverflow
	}
	if sec > math.MaxInt64/int64(time.Second) || sec < math.MinInt64/int64(time.Second) {
		return 0, errOverflow
	}
	tsec := sec * int64(time.Second)
	nsec := nsec1 - nsec2
	if (nsec > 0 && tsec > math.MaxInt64-nsec) || (nsec < 0 && tsec < math.MinInt64-nsec) {
		return 0, errOverflow
	}
	return time.Duration(tsec + nsec), nil
}
