package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// A finding is a detector that fired on the event being observed, before it
// becomes an Alert.
type finding struct {
	det      Detector
	sev      Severity
	reason   string
	evidence map[string]any
}

type findings struct {
	n int
	f [numDetectors]finding
}

func (fs *findings) add(d Detector, sev Severity, reason string, ev map[string]any) {
	if fs.n < len(fs.f) {
		fs.f[fs.n] = finding{d, sev, reason, ev}
		fs.n++
	}
}

// Observe applies one event: it updates the baselines of the event's
// subject, device and source, runs the enabled detectors, and returns the
// alerts they raised (nil, without allocating, when none did).
//
// Rules for imperfect input:
//   - An invalid event (see [Event]) returns an error wrapping
//     ErrInvalidEvent and changes nothing.
//   - An event older than its subject's newest by more than
//     Options.MaxDisorder returns ErrOutOfOrder and changes nothing; a less
//     late event is applied, with time differences taken as absolute values.
//   - An event identical to one of its subject's last four returns
//     ErrDuplicate and changes nothing.
//   - Baselines learn only from allowed events. A denied event for a
//     subject the engine does not know counts only towards the source's
//     password-spray detector, so a flood of made-up user names cannot fill
//     the subject table.
//
// Observe never blocks on I/O; with GeoIP set it may do one database lookup.
func (e *Engine) Observe(ev Event) ([]Alert, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	var start time.Time
	if rand.Uint32()%latencySampling == 0 {
		start = time.Now()
	}
	if err := ev.normalize(); err != nil {
		e.metrics.event(resultInvalid, start)
		e.cfg.logger.LogAttrs(context.Background(), slog.LevelDebug, "analytics: event rejected",
			slog.String("subject", ev.Subject), slogErr(err))
		return nil, err
	}
	e.enrich(&ev)
	t := stamp(ev.Time)
	k := keysOf(&ev)

	alerts, err := e.observeSubject(&ev, &k, t)
	if err != nil {
		res := resultOutOfOrder
		if err == ErrDuplicate {
			res = resultDuplicate
		}
		e.metrics.event(res, start)
		e.cfg.logger.LogAttrs(context.Background(), slog.LevelDebug, "analytics: event rejected",
			slog.String("subject", ev.Subject), slog.Time("time", ev.Time), slogErr(err))
		return nil, err
	}
	if ev.Device != "" && ev.allowed() {
		others, existed := e.observeDevice(&ev, &k, t)
		for i := range alerts {
			if alerts[i].Detector == NewDevice {
				alerts[i].Evidence["device_known_to_others"] = others
				if !existed {
					alerts[i].Reason += " It has never been seen before with any subject."
				} else if others > 0 {
					alerts[i].Reason += fmt.Sprintf(" It was seen before with %d other subject(s).", others)
				}
			}
		}
	}
	if ev.Kind == KindDecision && ev.Effect == EffectDeny && ev.SourceIP.IsValid() && e.cfg.enabled[PasswordSpray] {
		alerts = e.observeSource(&ev, &k, t, alerts)
	}
	for i := range alerts {
		e.metrics.alert(alerts[i].Detector)
	}
	e.metrics.event(resultApplied, start)
	return alerts, nil
}

func (e *Engine) enrich(ev *Event) {
	if e.cfg.geo == nil || !ev.SourceIP.IsValid() || (ev.Country != "" && ev.ASN != 0 && ev.HasLocation) {
		return
	}
	g, err := e.cfg.geo.Lookup(ev.SourceIP)
	if err != nil {
		e.cfg.logger.LogAttrs(context.Background(), slog.LevelDebug, "analytics: geoip lookup failed",
			slogAddr("source_ip", ev.SourceIP), slogErr(err))
		return
	}
	if ev.Country == "" {
		ev.Country = g.Country
	}
	if ev.ASN == 0 {
		ev.ASN = g.ASN
	}
	if !ev.HasLocation && g.HasLocation && validLocation(g.Lat, g.Lon) {
		ev.Lat, ev.Lon, ev.AccuracyKM, ev.HasLocation = g.Lat, g.Lon, g.AccuracyKM, true
	}
}

// keys are the hashes of an event's strings, computed once per event.
type keys struct {
	subject, device, resource, country uint64
}

func keysOf(ev *Event) keys {
	k := keys{subject: hash64(ev.Subject)}
	if ev.Device != "" {
		k.device = hash64(ev.Device)
	}
	if ev.Resource != "" {
		k.resource = hash64(ev.Resource)
	}
	if ev.Country != "" {
		k.country = hash64(ev.Country)
	}
	return k
}

// fingerprint identifies an event for duplicate detection.
func fingerprint(ev *Event, k *keys) uint64 {
	h := uint64(ev.Time.UnixNano())*0x9E3779B97F4A7C15 ^ ev.BytesIn ^ ev.BytesOut<<1 ^ uint64(ev.Duration)<<2
	h ^= k.resource * 31
	h ^= k.device * 37
	var kind uint64 = 1
	if ev.Kind == KindFlow {
		kind = 2
	}
	if ev.Effect == EffectDeny {
		kind += 4
	}
	h ^= kind * 41
	if ev.Rule != "" {
		h ^= hash64(ev.Rule) * 43
	}
	if ev.SourceIP.IsValid() {
		b := ev.SourceIP.As16()
		for i := 0; i < 16; i += 8 {
			h ^= (uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
				uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56) * 47
		}
	}
	return h
}

func (e *Engine) observeSubject(ev *Event, k *keys, t uint32) ([]Alert, error) {
	sh := &e.subjects[k.subject&(numShards-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := e.getSubjectLocked(sh, ev.Subject, t, ev.allowed())
	if s == nil {
		return nil, nil
	}
	if t+e.cfg.disorder < s.newest {
		return nil, ErrOutOfOrder
	}
	if s.seenRecently(fingerprint(ev, k)) {
		return nil, ErrDuplicate
	}
	s.newest = max(s.newest, t)

	var fs findings
	switch {
	case ev.Kind == KindFlow:
		e.flowLocked(s, ev, t, &fs)
	case ev.Effect == EffectDeny:
		e.deniedLocked(s, ev, k, t, &fs)
	default:
		e.allowedLocked(s, ev, k, t, &fs)
	}
	if fs.n == 0 {
		return nil, nil
	}
	alerts := make([]Alert, fs.n)
	for i := 0; i < fs.n; i++ {
		f := &fs.f[i]
		e.addSignal(&s.signal, &s.signalAt, f.det, severityWeight[f.sev], t)
		s.fired[f.det] = max(s.fired[f.det], t)
	}
	score, _ := e.riskLocked(&s.signal, &s.signalAt, t)
	for i := 0; i < fs.n; i++ {
		f := &fs.f[i]
		alerts[i] = Alert{
			Time: ev.Time, Subject: s.name, Device: ev.Device, SourceIP: ev.SourceIP,
			Detector: f.det, Severity: f.sev, Score: score, Reason: f.reason, Evidence: f.evidence,
		}
	}
	return alerts, nil
}

// ready reports whether detector d is enabled and out of its cooldown for s.
func (e *Engine) ready(s *subject, d Detector, now uint32) bool {
	if !e.cfg.enabled[d] {
		return false
	}
	// A late event from before the last alert is inside that alert's
	// cooldown too.
	return s.fired[d] == 0 || (now >= s.fired[d] && now-s.fired[d] >= e.cfg.cooldown)
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func since(now, window uint32) uint32 {
	if now > window {
		return now - window
	}
	return 0
}

// allowedLocked handles an allowed decision. Detectors look at the baseline
// as it was before this event; the event is learned afterwards.
func (e *Engine) allowedLocked(s *subject, ev *Event, ks *keys, t uint32, fs *findings) {
	c := &e.cfg
	if s.learnedAt == 0 && s.last != 0 {
		s.learned(c, s.last) // settle whether learning completed before any silence
	}
	learned := s.learned(c, t)

	// Dormant account: a long silence, then activity, from a subject that
	// had learned before the silence began.
	learnedBefore := s.learnedAt != 0 && s.learnedAt <= s.last
	if learnedBefore && s.last != 0 && t > s.last && t-s.last >= c.dormantSecs && e.ready(s, DormantAccount, t) {
		days := float64(t-s.last) / 86400
		fs.add(DormantAccount, SeverityMedium,
			fmt.Sprintf("%s is active again after %.0f days without any allowed access.", s.name, days),
			map[string]any{"idle_days": round1(days), "last_active": unstamp(s.last)})
	}

	corp := e.corporate(ev.SourceIP)
	nk := netKey(ev.SourceIP)
	newNetwork := nk != 0 && !known(s.networks[:], nk, t, c.forgetSecs)

	// Impossible travel: physics, no baseline needed beyond one location.
	if ev.HasLocation && !corp && ev.AccuracyKM <= c.travelMaxAcc {
		// The great-circle distance is at most R·(|Δφ| + |Δλ|), so nearby
		// positions skip the trigonometry.
		near := kmPerDegree*(math.Abs(ev.Lat-float64(s.loc.lat))+math.Abs(ev.Lon-float64(s.loc.lon))) <
			c.travelMinKM+float64(s.loc.acc)+ev.AccuracyKM
		if s.loc.ok && !near && e.ready(s, ImpossibleTravel, t) {
			d := haversineKM(float64(s.loc.lat), float64(s.loc.lon), ev.Lat, ev.Lon)
			dist := d - float64(s.loc.acc) - ev.AccuracyKM
			dt := max(absDiff(t, s.loc.at), 60)
			speed := dist / (float64(dt) / 3600)
			if dist >= c.travelMinKM && speed > c.travelSpeed {
				fs.add(ImpossibleTravel, SeverityHigh,
					fmt.Sprintf("%s appeared %.0f km away (%s) %s after the previous access: %.0f km/h, faster than %.0f km/h.",
						s.name, d, orUnknown(ev.Country), time.Duration(dt)*time.Second, speed, c.travelSpeed),
					map[string]any{
						"distance_km": round1(d), "elapsed_s": dt, "speed_kmh": round1(speed),
						"from_lat": round4(float64(s.loc.lat)), "from_lon": round4(float64(s.loc.lon)),
						"to_lat": round4(ev.Lat), "to_lon": round4(ev.Lon), "previous_seen": unstamp(s.loc.at),
					})
			}
		}
		if t >= s.loc.at || !s.loc.ok {
			s.loc = location{lat: float32(ev.Lat), lon: float32(ev.Lon), acc: float32(ev.AccuracyKM), at: t, ok: true}
		}
	}

	// New device.
	if ev.Device != "" {
		k := ks.device
		if learned && c.enabled[NewDevice] && !known(s.devices[:], k, t, c.forgetSecs) {
			fs.add(NewDevice, SeverityLow,
				fmt.Sprintf("%s used device %q, not among the %d device(s) of their baseline.", s.name, ev.Device, used(s.devices[:])),
				map[string]any{"device": ev.Device, "known_devices": used(s.devices[:]), "new_network": newNetwork})
		}
		touch(s.devices[:], k, t, true)
	}

	// New country or ASN (not for corporate egress).
	if !corp && (ev.Country != "" || ev.ASN != 0) {
		var ck, ak uint64
		newCountry, newASN := false, false
		if ev.Country != "" {
			ck = ks.country
			newCountry = !known(s.countries[:], ck, t, c.forgetSecs)
		}
		if ev.ASN != 0 {
			ak = uint64(ev.ASN) | 1<<40
			newASN = !known(s.asns[:], ak, t, c.forgetSecs)
		}
		if learned && c.enabled[NewCountryOrASN] && (newCountry || newASN) {
			evidence := map[string]any{"country": ev.Country, "asn": ev.ASN, "new_country": newCountry, "new_asn": newASN,
				"new_network": newNetwork, "known_countries": used(s.countries[:]), "known_asns": used(s.asns[:])}
			if newCountry {
				fs.add(NewCountryOrASN, SeverityMedium,
					fmt.Sprintf("%s connected from %s, a country not in their baseline.", s.name, ev.Country), evidence)
			} else {
				fs.add(NewCountryOrASN, SeverityLow,
					fmt.Sprintf("%s connected from AS%d, a network operator not in their baseline.", s.name, ev.ASN), evidence)
			}
		}
		if ck != 0 {
			touch(s.countries[:], ck, t, true)
		}
		if ak != 0 {
			touch(s.asns[:], ak, t, true)
		}
	}
	if nk != 0 {
		touch(s.networks[:], nk, t, true)
	}

	// Unusual hour: far from every hour that holds a real share of the
	// subject's activity.
	how := hourOfWeek(t)
	if learned && float64(s.hoursTotal)*c.hourShare >= 3 && e.ready(s, UnusualHour, t) {
		if share, near := s.usualHourNear(how%24, c.hourMargin); share < c.hourShare {
			fs.add(UnusualHour, SeverityLow,
				fmt.Sprintf("%s is active at %02d:00 UTC; no hour within %d hours of it holds %.0f%% of their activity (the busiest, %02d:00, holds %.1f%%).",
					s.name, how%24, c.hourMargin, c.hourShare*100, near, share*100),
				map[string]any{"hour_utc": how % 24, "weekday": time.Weekday((how/24 + 1) % 7).String(),
					"nearby_share": round4(share), "week_hour_count": s.hours[how]})
		}
	}
	s.countHour(how)

	e.rateLocked(s, t, learned, fs)
	e.resourceLocked(s, ev, ks, t, learned, true, fs)

	s.events++
	if s.first == 0 {
		s.first = t
	}
	s.last = max(s.last, t)
}

// deniedLocked handles a denied decision of a known subject.
func (e *Engine) deniedLocked(s *subject, ev *Event, ks *keys, t uint32, fs *findings) {
	c := &e.cfg
	learned := s.learned(c, t)
	lvl := float64(s.denyLevel)
	if s.denyAt != 0 && t > s.denyAt {
		lvl *= math.Exp(-float64(t-s.denyAt) / c.denyTau)
	}
	lvl++
	s.denyLevel, s.denyAt = float32(lvl), max(s.denyAt, t)
	if lvl >= c.denyThreshold && e.ready(s, DenialBurst, t) {
		fs.add(DenialBurst, SeverityMedium,
			fmt.Sprintf("%s was denied about %.0f times within %s (last: %s by rule %s): brute force or policy probing.",
				s.name, lvl, time.Duration(c.denyTau)*time.Second, orUnknown(ev.Resource), orUnknown(ev.Rule)),
			map[string]any{"denials": round1(lvl), "window_s": c.denyTau, "resource": ev.Resource, "rule": ev.Rule})
	}
	e.rateLocked(s, t, learned, fs)
	e.resourceLocked(s, ev, ks, t, learned, false, fs)
}

// rateLocked counts the decision in every rate window and checks for a
// spike: within one of them, more decisions than the window's floor, than
// its mean per active bucket plus Sigmas standard deviations, and than
// PeakFactor times its busiest recent count. When several windows are over
// their limits, the alert names the one furthest over.
func (e *Engine) rateLocked(s *subject, t uint32, learned bool, fs *findings) {
	c := &e.cfg
	best, bestN, bestLimit := -1, 0.0, 0.0
	for i := range s.rate {
		w := &s.rate[i]
		n := w.count(t, rateWindowSecs[i], rateWindowInv[i])
		if !learned || n < c.rateMin[i] || w.base.n < rateMinBuckets {
			continue
		}
		limit := max(float64(w.base.mean)+c.rateSigmas*max(w.base.sd(), 1), c.ratePeakFactor*float64(w.peak))
		if n > limit && (best < 0 || n/limit > bestN/bestLimit) {
			best, bestN, bestLimit = i, n, limit
		}
	}
	if best < 0 || !e.ready(s, RateSpike, t) {
		return
	}
	w := &s.rate[best]
	perMinute := bestN * 60 / float64(rateWindowSecs[best])
	fs.add(RateSpike, SeverityMedium,
		fmt.Sprintf("%s made about %.0f requests within %s (%.1f a minute); they usually make %.1f in an active %s, and %.0f in their busiest recent one.",
			s.name, bestN, rateWindowSpans[best], perMinute, w.base.mean, rateWindowNouns[best], w.peak),
		map[string]any{"window": rateWindowNames[best], "window_s": rateWindowSecs[best],
			"count": round1(bestN), "per_minute": round1(perMinute),
			"mean": round1(float64(w.base.mean)), "sd": round1(w.base.sd()),
			"recent_peak": round1(float64(w.peak)), "limit": round1(bestLimit)})
}

// resourceLocked records the resource and checks for a sweep.
func (e *Engine) resourceLocked(s *subject, ev *Event, ks *keys, t uint32, learned, allowed bool, fs *findings) {
	if ev.Resource == "" {
		return
	}
	c := &e.cfg
	k := ks.resource
	isNew := !known(s.resources[:], k, t, c.forgetSecs)
	touch(s.resources[:], k, t, allowed)
	if !learned || !isNew || !e.ready(s, ResourceSweep, t) {
		return
	}
	if n := activeSince(s.resources[:], since(t, c.sweepWindow)); n >= c.sweepResources {
		fs.add(ResourceSweep, SeverityHigh,
			fmt.Sprintf("%s reached %d distinct resources within %s (latest: %s): scanning or lateral movement.",
				s.name, n, time.Duration(c.sweepWindow)*time.Second, ev.Resource),
			map[string]any{"distinct_resources": n, "window_s": c.sweepWindow, "resource": ev.Resource,
				"baseline_resources": used(s.resources[:])})
	}
}

// flowLocked handles a closed flow.
func (e *Engine) flowLocked(s *subject, ev *Event, t uint32, fs *findings) {
	if ev.BytesOut == 0 && ev.BytesIn == 0 {
		return
	}
	c := &e.cfg
	x := math.Log2(float64(ev.BytesOut) + 1)
	if s.learned(c, t) && s.flowBytes.n >= 20 && ev.BytesOut >= c.exfilMin && e.ready(s, Exfiltration, t) {
		typical := math.Exp2(float64(s.flowBytes.mean))
		if float64(ev.BytesOut) >= c.exfilFactor*typical && x > float64(s.flowBytes.mean)+3*max(s.flowBytes.sd(), 1) {
			sev := SeverityHigh
			if ev.BytesOut >= 8*c.exfilMin {
				sev = SeverityCritical
			}
			fs.add(Exfiltration, sev,
				fmt.Sprintf("%s received %s from %s in one flow, %.0f times their typical %s.",
					s.name, humanBytes(float64(ev.BytesOut)), orUnknown(ev.Resource), float64(ev.BytesOut)/typical, humanBytes(typical)),
				map[string]any{"bytes_out": ev.BytesOut, "typical_bytes": math.Round(typical), "resource": ev.Resource,
					"duration_ms": ev.Duration.Milliseconds()})
		}
	}
	s.flowBytes.add(x, 0.05)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func humanBytes(b float64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%.0f B", b)
	}
	div, exp := float64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", b/div, "KMGTPE"[exp])
}

// kmPerDegree is the length of one degree of a great circle.
const kmPerDegree = earthRadiusKM * math.Pi / 180

const earthRadiusKM = 6371.0088

// haversineKM is the great-circle distance between two points on a sphere
// of the Earth's mean radius.
func haversineKM(lat1, lon1, lat2, lon2 float64) float64 {
	const r = earthRadiusKM
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(min(1, a)))
}
