package policy_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/policy"
)

// typicalPolicy is a 10-rule set of the kind the README's performance
// section describes: groups, device posture, time of day and source CIDR.
// bench/ decides the same file and its Rego and Cedar translations.
var typicalPolicy = func() string {
	b, err := os.ReadFile("testdata/typical.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

var benchTime = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// typicalRequest builds the request the benchmarks decide: an engineer on
// a managed laptop in the office reaching a production database. Like a
// gateway, it fills the request from what its directory and resource
// configuration already hold (the groups and labels are shared, not copied).
func typicalRequest(i int) *policy.Request {
	r := new(policy.Request)
	fillTypical(r, i)
	return r
}

// fillTypical rebuilds the typical request in place, field by field, as a
// gateway that keeps one request per worker does for every new flow.
func fillTypical(r *policy.Request, i int) {
	*r = policy.Request{
		Subject:  policy.Subject{ID: "u-42", Groups: benchGroups, MFA: true},
		Device:   policy.Device{ID: "d-7", Managed: true, DiskEncrypted: true},
		Source:   policy.Source{IP: "10.1.2.3", Country: "DE"},
		Resource: policy.Resource{Kind: "tcp", Name: "db-main", Port: 5432, Labels: benchLabels},
		Time:     benchTime,
		Risk:     policy.Risk{Score: int64(i % 50)},
	}
}

var (
	benchGroups = []string{"staff", "eng"}
	benchLabels = map[string]string{"env": "prod"}
)

func mustSet(tb testing.TB, docs ...string) *policy.Set {
	tb.Helper()
	return mustSetOpts(tb, nil, docs...)
}

func mustSetOpts(tb testing.TB, opts *policy.CompileOptions, docs ...string) *policy.Set {
	tb.Helper()
	var ds []*policy.Document
	for i, src := range docs {
		d, err := policy.Parse(fmt.Sprintf("doc%d.yaml", i), []byte(src))
		if err != nil {
			tb.Fatal(err)
		}
		ds = append(ds, d)
	}
	s, err := policy.Compile(ds, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// manyRules returns the typical set followed by n-10 rules about other
// resources, the way a large organisation's set grows: one rule per
// application.
func manyRules(n int) string {
	var b strings.Builder
	b.WriteString(typicalPolicy)
	for i := 10; i < n; i++ {
		fmt.Fprintf(&b, "  - id: app-%d\n    effect: allow\n    resources: {kind: http, names: [app-%d.corp]}\n    when: '\"team-%d\" in subject.groups && device.managed'\n", i, i, i%97)
	}
	return b.String()
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			s := mustSet(b, manyRules(n))
			ctx := context.Background()
			b.ReportAllocs()
			cpu := processCPU()
			n := 0
			r := new(policy.Request)
			for i := 0; b.Loop(); i++ {
				fillTypical(r, i)
				d := s.Decide(ctx, r)
				if d.Effect != policy.Allow {
					b.Fatalf("decision %s by %q, want allow", d.Effect, d.Rule)
				}
				n++
			}
			// CPU per decision, garbage collection included: steadier
			// than ns/op when other work shares the machine.
			b.ReportMetric(float64(processCPU()-cpu)/float64(n), "cpu-ns/op")
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10, 10000} {
		src := manyRules(n)
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mustSet(b, src)
			}
		})
	}
}
