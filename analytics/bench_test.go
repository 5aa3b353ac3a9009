package analytics_test

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/analytics/scenario"
)

var benchOnce = sync.OnceValue(func() *scenario.Scenario {
	return scenario.Generate(scenario.Config{Seed: 1, Users: 100, Days: 50, AttackFree: true})
})

// replayShift is how far each pass over the benchmark stream moves its
// events (a day more than the stream spans), so that time keeps moving
// forward for every subject.
const replayShift = 51 * 24 * time.Hour

// BenchmarkObserve is the engine's throughput on one goroutine with every
// detector on, over realistic synthetic traffic (100 users, 50 days, about
// 170,000 events, cycled). Run with -cpu 1 for the one-core figure; compare
// with BenchmarkObserveReference from the same run.
func BenchmarkObserve(b *testing.B) {
	sc := benchOnce()
	e, err := analytics.New(sc.Options())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	evs := sc.Events
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(i/len(evs)) * replayShift)
		if _, err := e.Observe(ev); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, start, cpu0)
}

// BenchmarkObserveReference is the floor any per-subject streaming state
// pays: a sharded mutex, a map lookup by subject and a counter update, over
// the same events. Observe's cost over this is what the detectors cost.
func BenchmarkObserveReference(b *testing.B) {
	sc := benchOnce()
	type shard struct {
		mu sync.Mutex
		m  map[string]*[2]uint64
	}
	var shards [64]shard
	for i := range shards {
		shards[i].m = map[string]*[2]uint64{}
	}
	evs := sc.Events
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		ev.Time = ev.Time.Add(time.Duration(i/len(evs)) * replayShift)
		h := uint64(14695981039346656037)
		for j := 0; j < len(ev.Subject); j++ {
			h = (h ^ uint64(ev.Subject[j])) * 1099511628211
		}
		sh := &shards[h&63]
		sh.mu.Lock()
		c := sh.m[ev.Subject]
		if c == nil {
			c = new([2]uint64)
			sh.m[ev.Subject] = c
		}
		c[0]++
		c[1] = uint64(ev.Time.Unix())
		sh.mu.Unlock()
	}
	reportRate(b, start, cpu0)
}

// BenchmarkObserveParallel runs Observe from GOMAXPROCS goroutines, each on
// its own subjects.
func BenchmarkObserveParallel(b *testing.B) {
	sc := benchOnce()
	e, err := analytics.New(sc.Options())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var (
		mu   sync.Mutex
		next int
	)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		id := next
		next++
		mu.Unlock()
		// Each goroutine replays the stream under its own subject names.
		evs := make([]analytics.Event, len(sc.Events))
		copy(evs, sc.Events)
		for k := range evs {
			evs[k].Subject = fmt.Sprintf("g%d-%s", id, evs[k].Subject)
		}
		i := 0
		for pb.Next() {
			ev := evs[i%len(evs)]
			ev.Time = ev.Time.Add(time.Duration(i/len(evs)) * replayShift)
			if _, err := e.Observe(ev); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	reportRate(b, start, cpu0)
}

// BenchmarkRisk is the policy hot path's lookup.
func BenchmarkRisk(b *testing.B) {
	sc := benchOnce()
	e, err := analytics.New(sc.Options())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, ev := range sc.Events {
		_, _ = e.Observe(ev)
	}
	now := sc.Events[len(sc.Events)-1].Time
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		_ = e.RiskAt(sc.Events[i%1000].Subject, now)
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/lookup")
	}
}

// BenchmarkDecode is the JSON-lines decoder that the replay command uses.
func BenchmarkDecode(b *testing.B) {
	sc := benchOnce()
	var buf bytes.Buffer
	for _, ev := range sc.Events[:10000] {
		j, _ := ev.MarshalJSON()
		buf.Write(j)
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)) / 10000)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var d *analytics.Decoder
	for i := 0; i < b.N; i++ {
		if i%10000 == 0 {
			d = analytics.NewDecoder(bytes.NewReader(data))
		}
		var ev analytics.Event
		if err := d.Decode(&ev); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, start, cpu0)
}

// BenchmarkMemoryPerSubject measures the heap held per tracked subject
// with every table full: 8 devices, 8 countries, 8 ASNs, 16 networks, 32
// resources, a busy hour histogram, and the map entry and name.
func BenchmarkMemoryPerSubject(b *testing.B) {
	const n = 20000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		e, err := analytics.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		for s := 0; s < n; s++ {
			name := fmt.Sprintf("user-%06d@example.com", s)
			for k := 0; k < 40; k++ {
				ev := base(t0.Add(time.Duration(k)*37*time.Minute), fmt.Sprintf("res-%d", k))
				ev.Subject = name
				ev.Device = fmt.Sprintf("dev-%d", k%8)
				ev.Country = fmt.Sprintf("C%d", k%8)
				ev.ASN = uint32(k % 8)
				ev.SourceIP = ipN(k % 16 << 8)
				if _, err := e.Observe(ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := e.Stats()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(st.Subjects), "bytes/subject")
		runtime.KeepAlive(e)
		e.Close()
		b.StartTimer()
	}
}

// reportRate reports events per wall-clock second and, because the machines
// that run these benchmarks are shared, the process's CPU nanoseconds per
// event (which includes the garbage collector's share) and events per CPU
// second: the figure that does not depend on how busy the machine is.
func reportRate(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}
