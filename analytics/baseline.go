package analytics

import "math"

// Table sizes. They bound the memory per subject (see BenchmarkMemoryPerSubject):
// a subject is one allocation of about 1.9 KiB plus its name and map entry.
const (
	deviceSlots   = 8
	countrySlots  = 8
	asnSlots      = 8
	networkSlots  = 16
	resourceSlots = 32
	sourceSlots   = 32 // distinct subjects remembered per source address
	recentSlots   = 4  // fingerprints kept for duplicate detection
	hoursPerWeek  = 168
	hourHalving   = 8192 // halve the hour histogram when its total reaches this
)

// A slot is one remembered thing: a device, country, ASN, network or
// resource, by hash. Key zero marks an empty slot. Count is the number of
// allowed events that used it; zero means the thing has only been seen in
// denied requests and is not part of the baseline.
type slot struct {
	key   uint64
	last  uint32 // stamp of the last use
	count uint32
}

// lookup returns the index of key in t, or -1.
func lookup(t []slot, key uint64) int {
	for i := range t {
		if t[i].key == key {
			return i
		}
	}
	return -1
}

// known reports whether key is in the baseline at time now: present, used
// by an allowed event, and not forgotten.
func known(t []slot, key uint64, now, forget uint32) bool {
	i := lookup(t, key)
	return i >= 0 && t[i].count > 0 && now-min(now, t[i].last) < forget
}

// touch records a use of key at now and returns its index. A new key
// replaces an empty slot, else the least recently used slot that is not in
// the baseline, else the least recently used one.
func touch(t []slot, key uint64, now uint32, allowed bool) int {
	i := lookup(t, key)
	if i < 0 {
		i = victim(t)
		t[i] = slot{key: key}
	}
	if now > t[i].last {
		t[i].last = now
	}
	if allowed && t[i].count < math.MaxUint32 {
		t[i].count++
	}
	return i
}

func victim(t []slot) int {
	best, bestUnknown := -1, -1
	for i := range t {
		switch {
		case t[i].key == 0:
			return i
		case t[i].count == 0:
			if bestUnknown < 0 || t[i].last < t[bestUnknown].last {
				bestUnknown = i
			}
		default:
			if best < 0 || t[i].last < t[best].last {
				best = i
			}
		}
	}
	if bestUnknown >= 0 {
		return bestUnknown
	}
	return best
}

// activeSince counts the slots used at or after since.
func activeSince(t []slot, since uint32) int {
	n := 0
	for i := range t {
		if t[i].key != 0 && t[i].last >= since {
			n++
		}
	}
	return n
}

// used counts the slots in the baseline.
func used(t []slot) int {
	n := 0
	for i := range t {
		if t[i].count > 0 {
			n++
		}
	}
	return n
}

// ewma is an exponentially weighted mean and variance (West's update).
type ewma struct {
	mean, vari float32
	n          uint32
}

func (e *ewma) add(x, alpha float64) {
	if e.n == 0 {
		e.mean, e.vari = float32(x), 0
	} else {
		m := float64(e.mean)
		d := x - m
		m += alpha * d
		v := (1 - alpha) * (float64(e.vari) + alpha*d*d)
		e.mean, e.vari = float32(m), float32(v)
	}
	if e.n < math.MaxUint32 {
		e.n++
	}
}

func (e *ewma) sd() float64 { return math.Sqrt(float64(e.vari)) }

// location is a subject's last usable position.
type location struct {
	lat, lon, acc float32
	at            uint32
	ok            bool
}

// subject is everything the engine keeps about one subject. It is one
// allocation of fixed size; every field is guarded by its shard's mutex.
type subject struct {
	name string

	first, last uint32 // stamps of the first and last allowed decision
	newest      uint32 // stamp of the newest event of any kind (disorder check)
	events      uint32 // allowed decisions counted
	learnedAt   uint32 // stamp when the subject completed learning, 0 before

	hours      [hoursPerWeek]uint16 // allowed decisions per hour of the week (UTC)
	hoursTotal uint32
	daily      [24]uint32 // the same folded over the week: per hour of the day

	devices   [deviceSlots]slot
	countries [countrySlots]slot
	asns      [asnSlots]slot
	networks  [networkSlots]slot
	resources [resourceSlots]slot

	rate      [numRateWindows]rateWindow // decisions per 1, 5 and 15 minutes
	flowBytes ewma                       // log2(bytes_out+1) per flow

	denyLevel float32 // decayed denial count
	denyAt    uint32

	loc location

	signal   [numDetectors]float32 // decayed alert weight per detector
	signalAt [numDetectors]uint32
	fired    [numDetectors]uint32 // stamp of the last alert per detector

	recent  [recentSlots]uint64 // fingerprints of the last events
	recentN uint8
}

// learned reports whether the subject has enough history for baseline
// detectors. Once learned, a subject stays learned.
func (s *subject) learned(c *config, now uint32) bool {
	if s.learnedAt != 0 {
		return true
	}
	if s.events >= c.learnEvents && now-min(now, s.first) >= c.learnSecs {
		s.learnedAt = max(now, 1)
		return true
	}
	return false
}

// hourOfWeek is the hour of the week of a stamp, Monday 00:00 UTC = 0.
// 2000-01-01 was a Saturday: 5 days after a Monday.
func hourOfWeek(t uint32) int { return int((uint64(t)/3600 + 5*24) % hoursPerWeek) }

// usualHourNear returns the share of the subject's activity held by its
// busiest hour of the day within margin hours of hour h, and that hour.
func (s *subject) usualHourNear(h, margin int) (float64, int) {
	if s.hoursTotal == 0 {
		return 0, h
	}
	best, bestH := uint32(0), h
	for d := -margin; d <= margin; d++ {
		k := (h + d + 24) % 24
		if s.daily[k] > best {
			best, bestH = s.daily[k], k
		}
	}
	return float64(best) / float64(s.hoursTotal), bestH
}

func (s *subject) countHour(how int) {
	s.hours[how]++
	s.daily[how%24]++
	s.hoursTotal++
	if s.hoursTotal >= hourHalving || s.hours[how] == math.MaxUint16 {
		s.halveHours()
	}
}

// halveHours halves the histogram: exponential forgetting of old habits.
func (s *subject) halveHours() {
	for i := range s.hours {
		s.hours[i] /= 2
	}
	s.recountHours()
}

// recountHours derives daily and hoursTotal from hours.
func (s *subject) recountHours() {
	s.daily = [24]uint32{}
	s.hoursTotal = 0
	for i, n := range s.hours {
		s.daily[i%24] += uint32(n)
		s.hoursTotal += uint32(n)
	}
}

// seenRecently records fp and reports whether it was already among the
// subject's last few fingerprints.
func (s *subject) seenRecently(fp uint64) bool {
	for _, r := range s.recent {
		if r == fp {
			return true
		}
	}
	s.recent[s.recentN%recentSlots] = fp
	s.recentN++
	return false
}
