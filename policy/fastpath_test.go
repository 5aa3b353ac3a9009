package policy

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// fastConditions are conditions inside the fast path's subset; each must be
// compiled by it (TestFastPathCoverage) and agree with CEL on every request
// (FuzzFastPathMatchesCEL).
var fastConditions = []string{
	`risk.score >= 80`,
	`!device.disk_encrypted`,
	`"eng" in subject.groups && device.managed && cidr("10.0.0.0/8").containsIP(source.ip)`,
	`"eng" in subject.groups && time.getHours("Europe/Berlin") >= 7 && time.getHours("Europe/Berlin") < 20`,
	`"admins" in subject.groups && subject.mfa && resource.port == 22`,
	`source.country in ["KP", "IR"]`,
	`time - device.posture_time > duration("24h")`,
	`"project" in resource.labels && "project" in subject.attributes && resource.labels["project"] == subject.attributes["project"]`,
	`subject.attributes["clearance"] != "secret"`,
	`subject.attributes["team"] == "web" || risk.score < 30`,
	`resource.vendor_id == 0x046d && resource.product_id in [1, 2, 0xc52b]`,
	`!subject.mfa || time - subject.auth_time > duration("1h")`,
	`resource.method in ["GET", "HEAD"] && resource.path.startsWith("/api/") && !resource.host.endsWith(".internal")`,
	`has(subject.attributes.team) && size(subject.groups) > 1 && subject.email.contains("@")`,
	`cidr("2001:db8::/32").containsIP(source.ip) || source.asn == 3320`,
	`time.getDayOfWeek("UTC") in [1, 2, 3, 4, 5] && time.getHours() >= 6`,
	`device.os == "macos" && device.os_version >= "14" && device.firewall && device.screen_lock`,
	`"impossible_travel" in risk.signals == false`,
	`subject.id.size() > 3 && resource.kind != "usb"`,
	`device.posture_time < subject.auth_time || time - subject.auth_time <= duration("8h")`,
	// Constant collections whose element fails: the failure must survive.
	`subject.attributes["team"] in []`,
	`resource.labels["project"] in ["apollo"] || subject.attributes["clearance"] in []`,
	`cidr("10.1.0.0/8").containsIP(source.ip)`,
}

func compileBoth(t testing.TB, cond string) (cel.Program, boolFn) {
	t.Helper()
	prg, ast := plainProgram(t, cond)
	return prg, fastCompile(ast)
}

// plainProgram compiles cond as plain cel-go does: the checked AST, no
// folding, no optimisation. It is the reference every shortcut is held to.
func plainProgram(t testing.TB, cond string) (cel.Program, *cel.Ast) {
	t.Helper()
	env, err := Env()
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(cond)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", cond, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	return prg, ast
}

func TestFastPathCoverage(t *testing.T) {
	for _, c := range fastConditions {
		if _, fast := compileBoth(t, c); fast == nil {
			t.Errorf("not on the fast path: %s", c)
		}
	}
	for _, c := range []string{
		`subject.groups.exists(g, g.startsWith("eng"))`,
		`time.getHours("+01:00") > 3`,
		`subject.email.matches("^a")`,
	} {
		if _, fast := compileBoth(t, c); fast != nil {
			t.Errorf("outside the subset but compiled: %s", c)
		}
	}
}

// fuzzRequest builds a request from fuzz data: a few choices per field from
// small vocabularies so that conditions are often true, false and failing.
func fuzzRequest(data []byte) *Request {
	pick := func(opts ...string) string {
		if len(data) == 0 {
			return opts[0]
		}
		b := data[0]
		data = data[1:]
		return opts[int(b)%len(opts)]
	}
	num := func() int64 {
		if len(data) < 2 {
			return 0
		}
		v := int64(int16(binary.BigEndian.Uint16(data)))
		data = data[2:]
		return v
	}
	flag := func() bool { return pick("0", "1") == "1" }
	when := func() time.Time {
		switch pick("zero", "recent", "old", "future", "far", "zoned") {
		case "zero":
			return time.Time{}
		case "recent":
			return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(num()) * time.Minute)
		case "old":
			return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(num()) * time.Hour)
		case "zoned":
			// A request's times need not be in UTC (time.Now is local).
			return time.Date(2026, 3, 2, 23, 30, 0, 0, time.FixedZone("", 2*3600)).Add(time.Duration(num()) * time.Minute)
		case "future":
			return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		return time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	}
	maybeMap := func() map[string]string {
		switch pick("nil", "team", "project", "both") {
		case "team":
			return map[string]string{"team": pick("web", "ops"), "clearance": pick("secret", "public")}
		case "project":
			return map[string]string{"project": pick("apollo", "gemini")}
		case "both":
			return map[string]string{"team": "web", "project": pick("apollo", "gemini"), "clearance": "secret"}
		}
		return nil
	}
	r := &Request{}
	r.Subject.ID = pick("", "u1", "user-42", "ü")
	r.Subject.Email = pick("", "a@b", "nobody")
	for range int(num() & 3) {
		r.Subject.Groups = append(r.Subject.Groups, pick("eng", "admins", "sales", "oncall"))
	}
	r.Subject.MFA = flag()
	r.Subject.AuthTime = when()
	r.Subject.Attributes = maybeMap()
	r.Device.Managed, r.Device.DiskEncrypted, r.Device.Firewall, r.Device.ScreenLock = flag(), flag(), flag(), flag()
	r.Device.OS = pick("macos", "linux", "")
	r.Device.OSVersion = pick("13.1", "14.4", "9", "")
	r.Device.PostureTime = when()
	r.Source.IP = pick("10.1.2.3", "192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1", "fe80::1%eth0", "not-an-ip", "")
	r.Source.Country = pick("DE", "KP", "IR", "")
	r.Source.ASN = num()
	r.Resource.Kind = pick("tcp", "http", "usb")
	r.Resource.Port = num()
	r.Resource.Labels = maybeMap()
	if flag() {
		r.Resource.Labels = map[string]string{"project": pick("apollo", "gemini")}
	}
	r.Resource.Method = pick("GET", "POST", "HEAD")
	r.Resource.Path = pick("/api/x", "/", "")
	r.Resource.Host = pick("a.internal", "b.corp")
	r.Resource.VendorID = int64(pick("0", "1133", "1")[0]-'0') * 1133
	r.Resource.ProductID = num()
	r.Risk.Score = num() % 101
	if flag() {
		r.Risk.Signals = []string{pick("impossible_travel", "new_device")}
	}
	r.Time = when()
	if r.Time.IsZero() {
		r.Time = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	}
	return r
}

// FuzzFastPathMatchesCEL checks that every fast-path condition gives the
// same value, and fails in the same cases, as CEL itself.
func FuzzFastPathMatchesCEL(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("some bytes that pick several branches of every field"))
	f.Add([]byte{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 5, 0, 0, 1, 4, 4, 4, 4, 4, 4, 4, 4, 4})
	type pair struct {
		src  string
		prg  cel.Program
		fast boolFn
	}
	var pairs []pair
	for _, c := range fastConditions {
		prg, fast := compileBoth(f, c)
		if fast != nil {
			pairs = append(pairs, pair{c, prg, fast})
		}
	}
	env, _ := Env()
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzRequest(data)
		act := &activation{r: r, now: r.Time, conv: env.CELTypeAdapter()}
		ec := evalCtx{r: r, now: r.Time}
		for _, p := range pairs {
			out, _, celErr := p.prg.Eval(act)
			got, fastErr := p.fast(ec)
			if (celErr != nil) != (fastErr != nil) {
				t.Fatalf("%s\nrequest %+v\nCEL error %v, fast path error %v", p.src, r, celErr, fastErr)
			}
			if celErr == nil && out != types.Bool(got) {
				t.Fatalf("%s\nrequest %+v\nCEL %v, fast path %v", p.src, r, out, got)
			}
		}
	})
}

func TestDecideUsesFastPath(t *testing.T) {
	doc, err := Parse("p.yaml", []byte("rules:\n  - {id: a, effect: allow, when: '\"eng\" in subject.groups'}\n  - {id: b, effect: allow, when: 'subject.groups.exists(g, g == \"ops\")'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile([]*Document{doc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.rules[0].fast == nil || s.rules[1].fast != nil {
		t.Fatalf("fast path: a=%v b=%v", s.rules[0].fast != nil, s.rules[1].fast != nil)
	}
	for _, g := range []string{"eng", "ops"} {
		d := s.Decide(context.Background(), &Request{Subject: Subject{Groups: []string{g}}})
		if d.Effect != Allow {
			t.Errorf("%s: %s", g, d.Explain())
		}
	}
	_ = fmt.Sprint()
}
