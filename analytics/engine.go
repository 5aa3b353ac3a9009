package analytics

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const numShards = 64 // power of two

// An Engine keeps baselines, runs the detectors and scores risk. Create one
// with [New].
//
// An Engine is safe for concurrent use: Observe, Risk, RiskAt, Snapshot,
// Restore and Stats may be called from any number of goroutines. State is
// split into shards by subject (and by device and source address), each
// under its own mutex, so that events of different subjects proceed in
// parallel; events of one subject are applied one at a time, in the order
// their Observe calls take the shard's lock. An Engine starts no
// goroutines.
type Engine struct {
	cfg      config
	subjects [numShards]subjectShard
	devices  [numShards]deviceShard
	sources  [numShards]sourceShard
	metrics  *metrics
	closed   atomic.Bool
	closeMu  sync.Mutex
}

type subjectShard struct {
	mu sync.Mutex
	m  map[string]*subject // guarded by mu
	_  [40]byte            // keep shards on separate cache lines
}

// New returns an engine configured by opts (nil means all defaults).
func New(opts *Options) (*Engine, error) {
	e := &Engine{cfg: opts.config()}
	for i := range e.subjects {
		e.subjects[i].m = make(map[string]*subject)
		e.devices[i].m = make(map[string]*device)
		e.sources[i].m = make(map[netip.Addr]*source)
	}
	m, err := newMetrics(e)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	return e, nil
}

// Close releases the engine's metric registrations. Observe returns
// ErrClosed afterwards; Risk keeps answering from the last state. Close is
// safe to call more than once.
func (e *Engine) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed.Swap(true) {
		return nil
	}
	return e.metrics.close()
}

func shardOf(s string) uint64 { return hash64(s) & (numShards - 1) }

// getSubject returns the subject named name, creating it (and evicting the
// least recently seen of a sample when the shard is full) if create is true.
// The caller must hold sh.mu.
func (e *Engine) getSubjectLocked(sh *subjectShard, name string, now uint32, create bool) *subject {
	if s := sh.m[name]; s != nil {
		return s
	}
	if !create {
		return nil
	}
	if len(sh.m) >= max(1, e.cfg.maxSubjects/numShards) {
		evictOldest(sh.m, func(s *subject) uint32 { return s.newest })
	}
	s := &subject{name: strings.Clone(name), newest: now}
	sh.m[s.name] = s
	return s
}

// evictOldest deletes the least recently seen of up to eight entries of m,
// sampled through Go's randomised map iteration: an approximation of LRU
// that costs O(1) per insertion.
func evictOldest[K comparable, V any](m map[K]V, last func(V) uint32) {
	var (
		victim K
		oldest uint32
		n      int
	)
	for k, v := range m {
		if l := last(v); n == 0 || l < oldest {
			victim, oldest = k, l
		}
		n++
		if n == 8 {
			break
		}
	}
	if n > 0 {
		delete(m, victim)
	}
}

// Risk returns the current risk of subject, at the time of Options.Now. An
// unknown subject has a zero Risk.
func (e *Engine) Risk(subject string) Risk { return e.RiskAt(subject, e.cfg.now()) }

// RiskAt returns the risk of subject as it stands at t: the engine's
// signals decayed to t. Replays use it with event time.
func (e *Engine) RiskAt(subject string, t time.Time) Risk {
	now := clampStamp(t)
	sh := &e.subjects[shardOf(subject)]
	sh.mu.Lock()
	s := sh.m[subject]
	if s == nil {
		sh.mu.Unlock()
		return Risk{}
	}
	score, sig := e.riskLocked(&s.signal, &s.signalAt, now)
	sh.mu.Unlock()
	return Risk{Score: score, Signals: signalNames(sig)}
}

// SourceRisk returns the risk attached to a source address by source-level
// detectors (password spray), at the time of Options.Now.
func (e *Engine) SourceRisk(addr netip.Addr) Risk {
	now := clampStamp(e.cfg.now())
	addr = addr.Unmap()
	sh := &e.sources[sourceShardOf(addr)]
	sh.mu.Lock()
	src := sh.m[addr]
	if src == nil {
		sh.mu.Unlock()
		return Risk{}
	}
	var sig [numDetectors]float32
	var at [numDetectors]uint32
	sig[PasswordSpray], at[PasswordSpray] = src.signal, src.signalAt
	score, active := e.riskLocked(&sig, &at, now)
	sh.mu.Unlock()
	return Risk{Score: score, Signals: signalNames(active)}
}

func clampStamp(t time.Time) uint32 {
	switch {
	case t.Before(MinTime):
		return 0
	case !t.Before(MaxTime):
		return stamp(MaxTime.Add(-time.Second))
	}
	return stamp(t)
}

// Stats counts what the engine tracks.
type Stats struct {
	Subjects int // subjects with a baseline
	Devices  int
	Sources  int // source addresses with recent denials
}

// Stats returns how many subjects, devices and sources the engine tracks.
func (e *Engine) Stats() Stats {
	var st Stats
	for i := range e.subjects {
		sh := &e.subjects[i]
		sh.mu.Lock()
		st.Subjects += len(sh.m)
		sh.mu.Unlock()
		dh := &e.devices[i]
		dh.mu.Lock()
		st.Devices += len(dh.m)
		dh.mu.Unlock()
		so := &e.sources[i]
		so.mu.Lock()
		st.Sources += len(so.m)
		so.mu.Unlock()
	}
	return st
}

func (e *Engine) corporate(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range e.cfg.corporate {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
