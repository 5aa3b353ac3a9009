package analytics

import (
	"log/slog"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Options configures an [Engine]. A nil *Options, and every zero field,
// means the documented default. New copies the options; changing them
// afterwards has no effect.
type Options struct {
	// Logger receives debug records about rejected events and GeoIP
	// failures. Default: discard.
	Logger *slog.Logger

	// MeterProvider provides the engine's meter. Default: the global
	// provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider

	// GeoIP, if set, fills in Country, ASN and location of events that
	// carry a SourceIP but lack them. Default: none; events are used as they
	// come.
	GeoIP GeoIP

	// Now is the clock that Risk reads. Default: time.Now. Observe never
	// reads it: detectors run on event time, so that replays of past events
	// behave as the live stream did.
	Now func() time.Time

	// Detectors lists the detectors to run. Default (nil): all of them.
	Detectors []Detector

	// Learning is how much history a subject needs before baseline
	// detectors may fire on it.
	Learning Learning

	// CorporateEgress lists the networks of the organisation's own egress
	// points (VPN concentrators, proxies). Events from them are skipped by
	// impossible travel and by the new country or ASN detector: their
	// location is the egress's, not the person's. Default: none.
	CorporateEgress []netip.Prefix

	// MaxSubjects, MaxDevices and MaxSources bound how many subjects,
	// devices and source addresses the engine tracks. Past a bound the
	// least recently seen entry (approximately: the oldest of a few
	// sampled) is forgotten. Defaults: 1,000,000, 1,000,000, 262,144.
	MaxSubjects, MaxDevices, MaxSources int

	// Forget is how long a baseline entry (device, country, ASN, network,
	// resource) stays known without being seen again. Default: 90 days.
	Forget time.Duration

	// MaxDisorder is how far behind its subject's newest event an event
	// may be and still be applied; older events are rejected with
	// ErrOutOfOrder. Default: 5 minutes.
	MaxDisorder time.Duration

	// Cooldown is the least time between two alerts of one detector for one
	// subject (or source). New device and new country or ASN alerts are
	// not rate limited: each fires once per new thing. Default: 30 minutes.
	Cooldown time.Duration

	// RiskHalfLife is the half-life of an alert's weight in the risk score.
	// Default: 2 hours.
	RiskHalfLife time.Duration

	Travel  TravelOptions
	Hour    HourOptions
	Rate    RateOptions
	Denial  DenialOptions
	Spray   SprayOptions
	Exfil   ExfilOptions
	Sweep   SweepOptions
	Dormant DormantOptions
}

// Learning is the history a subject needs before the baseline detectors
// (new device, new country or ASN, unusual hour, rate spike, exfiltration,
// resource sweep, dormant account) fire on it: at least Events allowed
// decisions spread over at least Period. Defaults: 50 events, 7 days.
type Learning struct {
	Events int
	Period time.Duration
}

// TravelOptions tunes impossible travel: two allowed events of one subject
// whose locations are more than MinDistanceKM apart, after subtracting both
// accuracy radii, at a speed above MaxSpeedKMH. Locations whose accuracy
// radius exceeds MaxAccuracyKM are skipped. Defaults: 1000 km/h, 500 km,
// 300 km.
type TravelOptions struct {
	MaxSpeedKMH   float64
	MinDistanceKM float64
	MaxAccuracyKM float64
}

// HourOptions tunes unusual hour: an allowed decision at an hour of the day
// (UTC) such that no hour within Margin hours of it holds at least MinShare
// of the subject's allowed decisions. Working a little early or late stays
// within the margin of the usual hours; a login at 3 a.m. from someone who
// works nine to five does not. Defaults: 0.02, 3 hours (at most 11). The
// detector also waits until the subject's histogram holds 3/MinShare
// decisions.
type HourOptions struct {
	MinShare float64
	Margin   int
}

// RateOptions tunes rate spike. The detector counts each subject's
// decisions over three sliding windows, of 1, 5 and 15 minutes, and keeps a
// baseline per window: the mean and standard deviation of its count per
// active window, and its busiest recent count (a maximum that decays with a
// half-life of a week, so that a job the subject runs every night, or a
// batch that routinely bursts, is learned). It fires when, within one
// window, the count reaches that window's floor, exceeds the mean plus
// Sigmas standard deviations, and exceeds PeakFactor times the busiest
// recent count.
//
// The floors are absolute: Min within a minute (a burst), Min5 within 5
// minutes and Min15 within 15 minutes (a script that keeps a steadier pace,
// such as a scraper at one request every two seconds). They sit at about
// two and a half times the busiest windows of people in the scenario's
// attack-free traffic, busy mornings included (23, 36 and 80 decisions on
// seed 1; see TestRateFloorsClearPeople). Defaults: Min 60, Min5 100,
// Min15 200, Sigmas 6, PeakFactor 2.
type RateOptions struct {
	Min        int
	Min5       int
	Min15      int
	Sigmas     float64
	PeakFactor float64
}

// DenialOptions tunes denial burst: Threshold denials of one subject within
// about Window (an exponentially decaying count with time constant Window).
// Defaults: 10, 5 minutes.
type DenialOptions struct {
	Threshold int
	Window    time.Duration
}

// SprayOptions tunes password spray: denials for at least Subjects distinct
// subjects from one source address within Window. Defaults: 10, 10 minutes.
// Subjects is capped at 28 (the per-source table holds 32).
type SprayOptions struct {
	Subjects int
	Window   time.Duration
}

// ExfilOptions tunes exfiltration: a flow that sent at least MinBytes to
// the subject and at least Factor times the subject's typical (geometric
// mean) flow. Defaults: 256 MiB, 20.
type ExfilOptions struct {
	MinBytes uint64
	Factor   float64
}

// SweepOptions tunes resource sweep: decisions for at least Resources
// distinct resources within Window. Defaults: 20, 10 minutes. Resources is
// capped at 28 (the per-subject resource table holds 32).
type SweepOptions struct {
	Resources int
	Window    time.Duration
}

// DormantOptions tunes dormant account: an allowed decision after at least
// After without any. Default: 30 days.
type DormantOptions struct {
	After time.Duration
}

// config is Options with defaults applied, in the units the hot path uses.
type config struct {
	logger      *slog.Logger
	mp          metric.MeterProvider
	geo         GeoIP
	now         func() time.Time
	enabled     [numDetectors]bool
	learnEvents uint32
	learnSecs   uint32
	corporate   []netip.Prefix
	maxSubjects int
	maxDevices  int
	maxSources  int
	forgetSecs  uint32
	disorder    uint32
	cooldown    uint32
	halfLife    float64 // seconds

	travelSpeed, travelMinKM, travelMaxAcc float64
	hourShare                              float64
	hourMargin                             int
	rateMin                                [numRateWindows]float64
	rateSigmas                             float64
	ratePeakFactor                         float64
	denyThreshold                          float64
	denyTau                                float64 // seconds
	spraySubjects                          int
	sprayWindow                            uint32
	exfilMin                               uint64
	exfilFactor                            float64
	sweepResources                         int
	sweepWindow                            uint32
	dormantSecs                            uint32
}

func secs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := d / time.Second
	if s > 1<<31 {
		s = 1 << 31
	}
	return uint32(s)
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orFloat(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

func (o *Options) config() config {
	if o == nil {
		o = &Options{}
	}
	c := config{
		logger:      o.Logger,
		mp:          o.MeterProvider,
		geo:         o.GeoIP,
		now:         o.Now,
		learnEvents: uint32(orInt(o.Learning.Events, 50)),
		learnSecs:   secs(orDur(o.Learning.Period, 7*24*time.Hour)),
		corporate:   append([]netip.Prefix(nil), o.CorporateEgress...),
		maxSubjects: orInt(o.MaxSubjects, 1_000_000),
		maxDevices:  orInt(o.MaxDevices, 1_000_000),
		maxSources:  orInt(o.MaxSources, 1<<18),
		forgetSecs:  secs(orDur(o.Forget, 90*24*time.Hour)),
		disorder:    secs(orDur(o.MaxDisorder, 5*time.Minute)),
		cooldown:    secs(orDur(o.Cooldown, 30*time.Minute)),
		halfLife:    orDur(o.RiskHalfLife, 2*time.Hour).Seconds(),

		travelSpeed:    orFloat(o.Travel.MaxSpeedKMH, 1000),
		travelMinKM:    orFloat(o.Travel.MinDistanceKM, 500),
		travelMaxAcc:   orFloat(o.Travel.MaxAccuracyKM, 300),
		hourShare:      orFloat(o.Hour.MinShare, 0.02),
		hourMargin:     min(orInt(o.Hour.Margin, 3), 11),
		rateMin:        [numRateWindows]float64{float64(orInt(o.Rate.Min, 60)), float64(orInt(o.Rate.Min5, 100)), float64(orInt(o.Rate.Min15, 200))},
		rateSigmas:     orFloat(o.Rate.Sigmas, 6),
		ratePeakFactor: orFloat(o.Rate.PeakFactor, 2),
		denyThreshold:  float64(orInt(o.Denial.Threshold, 10)),
		denyTau:        orDur(o.Denial.Window, 5*time.Minute).Seconds(),
		spraySubjects:  min(orInt(o.Spray.Subjects, 10), sourceSlots-4),
		sprayWindow:    secs(orDur(o.Spray.Window, 10*time.Minute)),
		exfilMin:       uint64(orInt(int(min(o.Exfil.MinBytes, 1<<62)), 256<<20)),
		exfilFactor:    orFloat(o.Exfil.Factor, 20),
		sweepResources: min(orInt(o.Sweep.Resources, 20), resourceSlots-4),
		sweepWindow:    secs(orDur(o.Sweep.Window, 10*time.Minute)),
		dormantSecs:    secs(orDur(o.Dormant.After, 30*24*time.Hour)),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if o.Detectors == nil {
		for i := 1; i < numDetectors; i++ {
			c.enabled[i] = true
		}
	} else {
		for _, d := range o.Detectors {
			if d > 0 && int(d) < numDetectors {
				c.enabled[d] = true
			}
		}
	}
	return c
}
