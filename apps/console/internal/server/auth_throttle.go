package server

import (
	"sync"
	"time"
)

// throttle limits login attempts per key (client address and account)
// with a leaky bucket: burst attempts at once, then one per interval.
type throttle struct {
	burst    int
	interval time.Duration

	mu   sync.Mutex // guards next
	next map[string]time.Time
}

// throttleMaxKeys bounds the memory of one throttle.
const throttleMaxKeys = 100000

func newThrottle(burst int, interval time.Duration) *throttle {
	return &throttle{burst: burst, interval: interval, next: map[string]time.Time{}}
}

// allow reports whether key may try now and records the attempt.
func (t *throttle) allow(key string, now time.Time) bool {
	ok, _ := t.allowWait(key, now)
	return ok
}

// allowWait is allow that also says, when it refuses, how long until
// key may try again.
func (t *throttle) allowWait(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.next[key]; !ok && len(t.next) >= throttleMaxKeys {
		for k, v := range t.next {
			if v.Before(now) {
				delete(t.next, k)
			}
		}
		// Still full of live buckets: drop arbitrary ones rather than
		// grow without bound or refuse every newcomer.
		for k := range t.next {
			if len(t.next) < throttleMaxKeys {
				break
			}
			delete(t.next, k)
		}
	}
	n := t.next[key]
	if n.Before(now) {
		n = now
	}
	// Generic cell rate: n is when key's bucket will be full again;
	// a request fits while that is at most burst-1 intervals away (the
	// earlier test, n-now >= burst intervals, let burst+1 through
	// whenever the clock moved between requests).
	if ahead := n.Sub(now) - time.Duration(t.burst-1)*t.interval; ahead > 0 {
		return false, ahead
	}
	t.next[key] = n.Add(t.interval)
	return true, 0
}
