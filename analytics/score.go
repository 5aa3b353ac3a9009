package analytics

import "math"

// The risk score.
//
// Every alert adds its severity's weight (low 10, medium 25, high 45,
// critical 70) to its detector's signal. A signal decays exponentially with
// Options.RiskHalfLife. The score combines the decayed signals S as
//
//	score = round(100 * (1 - exp(-S / 60)))
//
// so that one medium alert scores 34, one high alert 53, a high and a medium
// together 69, and the score approaches but never exceeds 100 however many
// alerts pile up. A detector is listed in Risk.Signals while its decayed
// signal is at least 1 (one low alert for about 3.3 half-lives).
const (
	scoreScale     = 60
	signalListed   = 1
	signalMaxValue = 1e6
)

// RiskScore turns the sum of decayed signal weights into the 0–100 risk
// score, by the formula above. It is exported so that a console that
// decays stored alerts itself scores them exactly as the engine does.
func RiskScore(weight float64) int {
	return int(math.Round(100 * (1 - math.Exp(-weight/scoreScale))))
}

// decay returns the factor a signal set at stamp at keeps by stamp now.
func (e *Engine) decay(at, now uint32) float64 {
	if now <= at {
		return 1
	}
	return math.Exp2(-float64(now-at) / e.cfg.halfLife)
}

// addSignal adds w to signal d at now.
func (e *Engine) addSignal(sig *[numDetectors]float32, at *[numDetectors]uint32, d Detector, w float32, now uint32) {
	v := float64(sig[d])*e.decay(at[d], now) + float64(w)
	sig[d] = float32(min(v, signalMaxValue))
	if now > at[d] {
		at[d] = now
	}
}

// riskLocked computes the score and the set of listed detectors at now.
func (e *Engine) riskLocked(sig *[numDetectors]float32, at *[numDetectors]uint32, now uint32) (int, uint16) {
	var total float64
	var listed uint16
	for d := 1; d < numDetectors; d++ {
		if sig[d] == 0 {
			continue
		}
		v := float64(sig[d]) * e.decay(at[d], now)
		total += v
		if v >= signalListed {
			listed |= 1 << d
		}
	}
	return RiskScore(total), listed
}

func signalNames(set uint16) []string {
	if set == 0 {
		return nil
	}
	names := make([]string, 0, 4)
	for d := 1; d < numDetectors; d++ {
		if set&(1<<d) != 0 {
			names = append(names, detectorNames[d])
		}
	}
	return names
}
