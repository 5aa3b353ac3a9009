package bench

import (
	"fmt"
	"testing"

	"github.com/gonaut/gonaut/bench/policycmp"
)

func engines(tb testing.TB, n int) []policycmp.Engine {
	tb.Helper()
	g, err := policycmp.NewGonaut(n)
	if err != nil {
		tb.Fatal(err)
	}
	o, err := policycmp.NewOPA(n)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := policycmp.NewCedar(n)
	if err != nil {
		tb.Fatal(err)
	}
	return []policycmp.Engine{g, o, c}
}

// TestPolicyEnginesAgree checks that the three translations of the policy
// decide alike, with the same deciding rule, before anyone compares their
// speed.
func TestPolicyEnginesAgree(t *testing.T) {
	for _, n := range []int{10, 200} {
		es := engines(t, n)
		for i, in := range policycmp.Cases() {
			var want policycmp.Result
			for j, e := range es {
				got, err := e.Decide(in)
				if err != nil {
					t.Fatalf("n=%d case %d: %s: %v", n, i, e.Name(), err)
				}
				if j == 0 {
					want = got
					continue
				}
				if got != want {
					t.Errorf("n=%d case %d (%s %s): %s decided %+v, gonaut %+v", n, i, in.Kind, in.Name, e.Name(), got, want)
				}
			}
		}
	}
}

// BenchmarkPolicy decides the typical request with each engine, on the
// 10-rule set and on it grown to 10,000 rules.
func BenchmarkPolicy(b *testing.B) {
	for _, n := range []int{10, 10000} {
		for _, e := range engines(b, n) {
			b.Run(fmt.Sprintf("rules=%d/%s", n, e.Name()), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					r, err := e.Decide(policycmp.Typical(i))
					if err != nil || !r.Allow {
						b.Fatalf("%+v %v", r, err)
					}
				}
			})
		}
	}
}
