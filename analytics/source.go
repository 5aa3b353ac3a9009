package analytics

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// source is the per-source-address state of the password-spray detector:
// which subjects were denied from the address, and when.
type source struct {
	addr     netip.Addr
	subjects [sourceSlots]slot
	last     uint32
	fired    uint32
	signal   float32
	signalAt uint32
}

type sourceShard struct {
	mu sync.Mutex
	m  map[netip.Addr]*source // guarded by mu
	_  [40]byte
}

func sourceShardOf(a netip.Addr) uint64 {
	b := a.As16()
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h & (numShards - 1)
}

// observeSource counts a denial from ev.SourceIP and checks for a password
// spray: denials for many distinct subjects from one address. It has no
// learning period: the threshold is absolute, and a single address that is
// denied for ten different accounts within minutes is suspicious from the
// first day.
func (e *Engine) observeSource(ev *Event, ks *keys, t uint32, alerts []Alert) []Alert {
	c := &e.cfg
	addr := ev.SourceIP
	sh := &e.sources[sourceShardOf(addr)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	src := sh.m[addr]
	if src == nil {
		if len(sh.m) >= max(1, c.maxSources/numShards) {
			evictOldest(sh.m, func(s *source) uint32 { return s.last })
		}
		src = &source{addr: addr}
		sh.m[addr] = src
	}
	touch(src.subjects[:], ks.subject, t, false)
	src.last = max(src.last, t)
	n := activeSince(src.subjects[:], since(t, c.sprayWindow))
	if n < c.spraySubjects || (src.fired != 0 && (t < src.fired || t-src.fired < c.cooldown)) {
		return alerts
	}
	src.fired = t
	var sig [numDetectors]float32
	var at [numDetectors]uint32
	sig[PasswordSpray], at[PasswordSpray] = src.signal, src.signalAt
	e.addSignal(&sig, &at, PasswordSpray, severityWeight[SeverityHigh], t)
	src.signal, src.signalAt = sig[PasswordSpray], at[PasswordSpray]
	score, _ := e.riskLocked(&sig, &at, t)
	return append(alerts, Alert{
		Time: ev.Time, SourceIP: addr, Detector: PasswordSpray, Severity: SeverityHigh, Score: score,
		Reason: fmt.Sprintf("%s was denied for %d distinct subjects within %s (latest: %s): a password spray or account enumeration.",
			addr, n, time.Duration(c.sprayWindow)*time.Second, ev.Subject),
		Evidence: map[string]any{"distinct_subjects": n, "window_s": c.sprayWindow, "latest_subject": ev.Subject},
	})
}
