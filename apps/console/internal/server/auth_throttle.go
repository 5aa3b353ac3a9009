package server

import (
	"sync"
	"time"
)

// throttle limits requests per key with token buckets kept as the
// generic cell rate algorithm keeps them: one time per key, when its
// bucket will be full again. A bucket holds burst requests and refills
// one per interval. allow and allowWait spend from buckets of the
// throttle's own rate (logins, policy compiles); take spends from
// several buckets at once, each at the rate it is given (the API's
// limits, which differ per tenant and per kind of key).
//
// A key whose bucket is full is forgotten: it is the same as a key never
// seen. So the map holds only the keys that sent something lately, and
// is swept of the others every sweepEvery; it never holds more than
// maxKeys, however many keys an attacker rotates through.
type throttle struct {
	burst    int
	interval time.Duration
	maxKeys  int

	mu    sync.Mutex // guards next and swept
	next  map[string]time.Time
	swept time.Time // the last sweep of full buckets
}

// throttleMaxKeys bounds the memory of one throttle.
const throttleMaxKeys = 100000

// sweepEvery is how often a throttle forgets the keys whose buckets are
// full again.
const sweepEvery = 10 * time.Second

func newThrottle(burst int, interval time.Duration) *throttle {
	return &throttle{burst: burst, interval: interval, maxKeys: throttleMaxKeys, next: map[string]time.Time{}}
}

// allow reports whether key may try now and records the attempt.
func (t *throttle) allow(key string, now time.Time) bool {
	ok, _ := t.allowWait(key, now)
	return ok
}

// allowWait is allow that also says, when it refuses, how long until
// key may try again.
func (t *throttle) allowWait(key string, now time.Time) (bool, time.Duration) {
	b := bucket{key: key, burst: t.burst, interval: t.interval}
	ok := t.take(now, []*bucket{&b})
	return ok, b.wait
}

// A bucket is one key's bucket at a rate of its own, as take spends
// from it; take fills in what the caller may report about it.
type bucket struct {
	key      string
	burst    int           // at least 1
	interval time.Duration // positive

	// Set by take.
	refused   bool          // no request fitted
	remaining int           // requests left after this one, if it was spent
	full      time.Duration // until the bucket is full again
	wait      time.Duration // when refused: until a request fits
}

// take spends one request from every bucket of bs if each has one, and
// from none if any is empty, so that a request refused by one limit
// costs nothing against the others. It reports whether it spent, and
// fills in each bucket's state.
func (t *throttle) take(now time.Time, bs []*bucket) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.swept) >= sweepEvery {
		t.sweepLocked(now)
	}
	fits, added := true, 0
	tats := make([]time.Time, len(bs))
	for i, b := range bs {
		n, seen := t.next[b.key]
		if !seen {
			added++
		}
		if n.Before(now) {
			n = now
		}
		tats[i] = n
		// Generic cell rate: n is when the bucket will be full again;
		// a request fits while that is at most burst-1 intervals away
		// (the earlier test, n-now >= burst intervals, let burst+1
		// through whenever the clock moved between requests).
		b.wait = n.Sub(now) - time.Duration(b.burst-1)*b.interval
		b.refused = b.wait > 0
		if b.refused {
			fits = false
		} else {
			b.wait = 0
		}
	}
	for i, b := range bs {
		if fits {
			tats[i] = tats[i].Add(b.interval)
		}
		b.full = tats[i].Sub(now)
		used := int((b.full + b.interval - 1) / b.interval)
		b.remaining = max(b.burst-used, 0)
	}
	if !fits {
		return false
	}
	if added > 0 {
		t.makeRoomLocked(now, added)
	}
	for i, b := range bs {
		t.next[b.key] = tats[i]
	}
	return true
}

// sweepLocked forgets every key whose bucket is full. t.mu must be held.
func (t *throttle) sweepLocked(now time.Time) {
	for k, v := range t.next {
		if !v.After(now) {
			delete(t.next, k)
		}
	}
	t.swept = now
}

// makeRoomLocked makes room for n more keys when the map would
// overflow: first by forgetting full buckets, then, when every bucket is
// in use, by dropping arbitrary ones (an eighth of the map more than
// needed, so that a flood of new keys does not sweep on every request)
// rather than grow without bound or refuse every newcomer. t.mu must be
// held.
func (t *throttle) makeRoomLocked(now time.Time, n int) {
	if len(t.next)+n <= t.maxKeys {
		return
	}
	t.sweepLocked(now)
	for k := range t.next {
		if len(t.next)+n <= t.maxKeys-t.maxKeys/8 {
			break
		}
		delete(t.next, k)
	}
}
