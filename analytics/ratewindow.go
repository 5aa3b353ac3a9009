package analytics

import "math"

// The rate detector counts a subject's decisions over several window
// lengths at once, so that it sees a burst within a minute as well as a
// script that keeps a lower pace for a quarter of an hour.
const numRateWindows = 3

var (
	rateWindowSecs  = [numRateWindows]uint32{60, 300, 900}
	rateWindowInv   = [numRateWindows]float64{1.0 / 60, 1.0 / 300, 1.0 / 900}
	rateWindowNames = [numRateWindows]string{"1m", "5m", "15m"}
	// For alert reasons: "within a minute", "an active minute".
	rateWindowSpans = [numRateWindows]string{"a minute", "5 minutes", "15 minutes"}
	rateWindowNouns = [numRateWindows]string{"minute", "5-minute window", "15-minute window"}
)

// ratePeakHalfLife is how fast a window's remembered busiest count fades,
// in seconds: a week, so that weekly batch jobs stay remembered.
const ratePeakHalfLife = 7 * 24 * 3600

// rateMinBuckets is how many active buckets a window must have learned
// before it may fire.
const rateMinBuckets = 20

// A rateWindow counts one subject's decisions over one window length. The
// count over the last length seconds is approximated from two fixed
// buckets, the current one and the one before, the latter weighted by the
// share of it the sliding window still covers (as a rate limiter's sliding
// window counter does); so a run of decisions that straddles a bucket
// boundary is not split in two.
//
// The baseline (mean and variance per active bucket, and the decaying
// busiest sliding count) learns a bucket only once it has left the sliding
// window, one bucket after it closed: until then the bucket is still part
// of what is being judged, and an attack must not raise its own bar.
type rateWindow struct {
	bucket uint32  // index (stamp / length) of the current bucket
	cur    uint32  // decisions in the current bucket
	prev   uint32  // decisions in the bucket just before it (0 if none)
	hi     float32 // highest sliding count seen during the current bucket
	prevHi float32 // the same for the previous bucket
	base   ewma    // decisions per active bucket
	peak   float32 // busiest learned sliding count, halving every ratePeakHalfLife
	peakAt uint32  // stamp at which peak was last raised or decayed
}

// count records a decision at stamp t and returns the number of decisions
// within the last length seconds (approximately; see rateWindow); perSec
// is 1/length. A late event, from before the current bucket, counts
// towards the current one.
func (w *rateWindow) count(t, length uint32, perSec float64) float64 {
	// Most events fall in the current bucket: a multiplication and a
	// comparison instead of a division on the hot path.
	end := (w.bucket + 1) * length
	if t >= end {
		w.advance(t/length, length)
		end = (w.bucket + 1) * length
	}
	w.cur++
	n := float64(w.cur)
	if w.prev > 0 {
		// The share of the previous bucket still inside the window: all of
		// it for a late event.
		left := length
		if t >= end-length {
			left = end - t
		}
		n += float64(w.prev) * float64(left) * perSec
	}
	if f := float32(n); f > w.hi {
		w.hi = f
	}
	return n
}

// advance moves the window to bucket b > w.bucket: the previous bucket
// leaves the sliding window and is learned, and so is the current one if
// the window skips past it.
func (w *rateWindow) advance(b, length uint32) {
	w.learn(w.prev, w.prevHi, w.bucket*length)
	if b == w.bucket+1 {
		w.prev, w.prevHi = w.cur, w.hi
	} else {
		w.learn(w.cur, w.hi, (w.bucket+1)*length)
		w.prev, w.prevHi = 0, 0
	}
	w.bucket, w.cur, w.hi = b, 0, 0
}

// learn adds a bucket of n decisions, whose sliding count reached hi,
// ending at stamp end, to the baseline. Empty buckets are not learned: the
// baseline is per active bucket.
func (w *rateWindow) learn(n uint32, hi float32, end uint32) {
	if n == 0 {
		return
	}
	w.base.add(float64(n), 0.05)
	peak := float64(w.peak)
	if end > w.peakAt {
		peak *= math.Exp2(-float64(end-w.peakAt) / ratePeakHalfLife)
	}
	w.peak, w.peakAt = float32(max(peak, float64(hi))), max(end, w.peakAt)
}
