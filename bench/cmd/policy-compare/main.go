// Command policy-compare decides the same policy with Gonaut, OPA and
// cedar-go side by side in one run and prints a Markdown table of medians
// and ratios: the table in the README's performance section.
//
//	cd bench && go run ./cmd/policy-compare -runs 5
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/bench/policycmp"
)

type loader struct {
	name string
	load func(n int) (policycmp.Engine, error)
}

var loaders = []loader{
	{"gonaut", func(n int) (policycmp.Engine, error) { return policycmp.NewGonaut(n) }},
	{"opa", func(n int) (policycmp.Engine, error) { return policycmp.NewOPA(n) }},
	{"cedar-go", func(n int) (policycmp.Engine, error) { return policycmp.NewCedar(n) }},
}

func main() {
	runs := flag.Int("runs", 5, "benchmark runs per engine and size; the median is reported")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "policy-compare:", err)
		os.Exit(1)
	}
}

type row struct {
	engine        string
	n             int
	nsMedian      float64
	allocs        int64
	compile       time.Duration
	heapMiB       float64
	agreeingCases int
}

func run(runs int) error {
	var rows []row
	var keep []policycmp.Engine // loaded engines stay alive so heap figures do not go negative
	for _, n := range []int{10, 10000} {
		var reference []policycmp.Result
		var es []policycmp.Engine
		first := len(rows)
		for _, l := range loaders {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			e, err := l.load(n)
			if err != nil {
				return fmt.Errorf("%s with %d rules: %w", l.name, n, err)
			}
			compile := time.Since(start)
			runtime.GC()
			runtime.ReadMemStats(&after)
			keep = append(keep, e)
			es = append(es, e)

			// The engines must agree before their speed means anything.
			agree := 0
			for i, in := range policycmp.Cases() {
				r, err := e.Decide(in)
				if err != nil {
					return fmt.Errorf("%s: case %d: %w", l.name, i, err)
				}
				if len(reference) <= i {
					reference = append(reference, r)
				}
				if r == reference[i] {
					agree++
				}
			}
			rows = append(rows, row{
				engine: l.name, n: n, compile: compile, agreeingCases: agree,
				heapMiB: float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20),
			})
		}
		// Interleave the engines run by run, so that the machine's load
		// falls on all of them alike.
		ns := make([][]float64, len(es))
		for range runs {
			for j, e := range es {
				res := testing.Benchmark(func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if _, err := e.Decide(policycmp.Typical(i)); err != nil {
							b.Fatal(err)
						}
					}
				})
				ns[j] = append(ns[j], float64(res.NsPerOp()))
				rows[first+j].allocs = res.AllocsPerOp()
			}
		}
		for j := range es {
			slices.Sort(ns[j])
			rows[first+j].nsMedian = ns[j][len(ns[j])/2]
		}
	}
	runtime.KeepAlive(keep)
	fmt.Printf("| rules | engine | decision (median of %d) | vs gonaut | allocs/decision | load + compile | heap after load | agrees on %d cases |\n", runs, len(policycmp.Cases()))
	fmt.Println("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		var g row
		for _, x := range rows {
			if x.n == r.n && x.engine == "gonaut" {
				g = x
			}
		}
		fmt.Printf("| %d | %s | %s | %.1f× | %d | %s | %.1f MiB | %d |\n",
			r.n, r.engine, fmtNs(r.nsMedian), r.nsMedian/g.nsMedian, r.allocs, r.compile.Round(time.Millisecond), r.heapMiB, r.agreeingCases)
	}
	for _, e := range []string{"gonaut", "opa", "cedar-go"} {
		var small, large float64
		for _, r := range rows {
			if r.engine == e && r.n == 10 {
				small = r.nsMedian
			}
			if r.engine == e && r.n == 10000 {
				large = r.nsMedian
			}
		}
		fmt.Printf("\n%s: 10,000 rules decide in %.2f× the time of 10 rules", e, large/small)
	}
	fmt.Println()
	return nil
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
