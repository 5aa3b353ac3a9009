package scenario

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// attackKinds are the per-subject and per-source attacks injected directly;
// dormant accounts come from the users' schedules.
var attackKinds = []analytics.Detector{
	analytics.ImpossibleTravel,
	analytics.NewDevice,
	analytics.NewCountryOrASN,
	analytics.UnusualHour,
	analytics.RateSpike,
	analytics.DenialBurst,
	analytics.PasswordSpray,
	analytics.Exfiltration,
	analytics.ResourceSweep,
}

func (g *gen) attacks() {
	if g.cfg.AttacksPerKind == 0 {
		return
	}
	// Victims: distinct people (not automation accounts) that never go
	// dormant.
	var pool []*user
	for _, i := range g.rng.Perm(len(g.users)) {
		if g.users[i].dormFrom < 0 && !g.users[i].automation() {
			pool = append(pool, g.users[i])
		}
	}
	next := 0
	attacker := 0
	for _, kind := range attackKinds {
		for k := 0; k < g.cfg.AttacksPerKind; k++ {
			attacker++
			day := 14 + g.rng.IntN(g.cfg.Days-16)
			if kind == analytics.PasswordSpray {
				g.spray(day, attacker)
				continue
			}
			if next >= len(pool) {
				return // not enough users for distinct victims
			}
			u := pool[next]
			next++
			g.attack(kind, u, day, attacker)
		}
	}
	// Sustained automated access, after every other kind so that a small
	// population runs out of victims here first: as many again rate
	// spikes, half of them a scraper at one request every two seconds for
	// ten minutes, half a slower one.
	for k := 0; k < g.cfg.AttacksPerKind; k++ {
		attacker++
		if next >= len(pool) {
			return
		}
		u := pool[next]
		next++
		g.scraper(u, 14+g.rng.IntN(g.cfg.Days-16), k%2 == 1)
	}
}

// scraper is a script on a stolen session, from the victim's home and
// device, on their usual resources: one request every two seconds for ten
// minutes (30 a minute: far below a burst, but hundreds of times the
// person's rate), or, slow, one every three to four seconds for 30 to 40
// minutes.
func (g *gen) scraper(u *user, day int, slow bool) {
	r := g.rng
	t0 := g.at(u, day, u.start+1+r.Float64()*(u.len-2))
	every, span, variant := 2*time.Second, 10*time.Minute, "scraper"
	if slow {
		every = 3*time.Second + time.Duration(r.IntN(1000))*time.Millisecond
		span = time.Duration(30+r.IntN(11)) * time.Minute
		variant = "slow scraper"
	}
	home, dev := g.home(u), u.devices[0]
	last := t0
	for t := t0; t.Before(t0.Add(span)); t = t.Add(every + time.Duration(r.IntN(200e6)-100e6)) {
		g.unlocated(u, t, dev, home, g.resource(u), true)
		last = t
	}
	g.record(analytics.RateSpike, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
	g.incidents[len(g.incidents)-1].Variant = variant
}

func (g *gen) record(kind analytics.Detector, subject string, src netip.Addr, start, end time.Time, expect ...analytics.Detector) {
	g.incidents = append(g.incidents, Incident{
		Kind: kind, Expect: append([]analytics.Detector{kind}, expect...),
		Subject: subject, Source: src, Start: start, End: end,
	})
}

func attackerAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{185, byte(i >> 8), byte(i), byte(7 + i%200)})
}

func (g *gen) attack(kind analytics.Detector, u *user, day, attacker int) {
	r := g.rng
	t0 := g.at(u, day, u.start+1+r.Float64()*(u.len-2))
	home := g.home(u)
	dev := u.devices[0]
	switch kind {
	case analytics.ImpossibleTravel:
		// A stolen session used from far away minutes after the user was
		// seen at home. Far away is also a new country and ASN.
		g.located(u, t0.Add(-time.Duration(5+r.IntN(15))*time.Minute), dev, home, u.resources[0])
		f := farFrom(places[u.home], attacker)
		c := netctx{ip: attackerAddr(attacker), asn: foreignASN(attacker), country: f.country, p: f, precise: true}
		var last time.Time
		for i := 0; i < 3; i++ {
			last = t0.Add(time.Duration(i) * time.Minute)
			g.located(u, last, dev, c, u.resources[i%len(u.resources)])
		}
		// The user's next accesses from home are just as impossible.
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(12*time.Hour), analytics.NewCountryOrASN)
	case analytics.NewDevice:
		nd := fmt.Sprintf("dev-unknown-%d", attacker)
		var last time.Time
		for i := 0; i < 3+r.IntN(4); i++ {
			last = t0.Add(time.Duration(i) * 40 * time.Second)
			g.access(u, last, nd, home, g.resource(u), true, false)
		}
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
	case analytics.NewCountryOrASN:
		// A known device from a country the user never connects from,
		// without a location (an anonymising proxy, say).
		f := foreign[attacker%len(foreign)]
		var last time.Time
		for i := 0; i < 3+r.IntN(3); i++ {
			last = t0.Add(time.Duration(i) * time.Minute)
			g.unlocated(u, last, dev, netctx{ip: attackerAddr(attacker), asn: foreignASN(attacker), country: f.country}, g.resource(u), true)
		}
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
	case analytics.UnusualHour:
		// In the middle of the user's night: twelve hours, give or take
		// ninety minutes, from the middle of their working day.
		t0 = g.at(u, day, u.start+u.len/2+12-1.5+3*r.Float64())
		var last time.Time
		for i := 0; i < 4+r.IntN(4); i++ {
			last = t0.Add(time.Duration(i) * 3 * time.Minute)
			g.unlocated(u, last, dev, home, g.resource(u), true)
		}
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
	case analytics.RateSpike:
		// A script: 100 to 300 requests a minute for two to three minutes.
		span := time.Duration(120+r.IntN(60)) * time.Second
		n := int(span.Minutes() * float64(100+r.IntN(200)))
		var last time.Time
		for i := 0; i < n; i++ {
			last = t0.Add(span * time.Duration(i) / time.Duration(n))
			g.unlocated(u, last, dev, home, g.resource(u), true)
		}
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
		g.incidents[len(g.incidents)-1].Variant = "burst"
	case analytics.DenialBurst:
		n := 15 + r.IntN(20)
		targets := []string{allResources[200+r.IntN(100)], allResources[200+r.IntN(100)], u.resources[0]}
		last := t0
		for i := 0; i < n; i++ {
			g.unlocated(u, last, dev, home, targets[r.IntN(len(targets))], false)
			last = last.Add(time.Duration(2+r.IntN(12)) * time.Second)
		}
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
	case analytics.Exfiltration:
		res := u.resources[0]
		g.unlocated(u, t0, dev, home, res, true)
		dur := time.Duration(20+r.IntN(60)) * time.Minute
		g.events = append(g.events, analytics.Event{
			Time: t0.Add(dur), Subject: u.name, Device: dev, SourceIP: home.ip, Country: home.country, ASN: home.asn,
			Resource: res, Kind: analytics.KindFlow, Effect: analytics.EffectAllow,
			BytesIn: 40 << 10, BytesOut: exfilBytes(u, r.IntN(18)), Duration: dur,
		})
		g.record(kind, u.name, netip.Addr{}, t0, t0.Add(dur+15*time.Minute))
	case analytics.ResourceSweep:
		n := 25 + r.IntN(16)
		span := time.Duration(300+r.IntN(180)) * time.Second
		var last time.Time
		for i, k := range r.Perm(len(allResources))[:n] {
			last = t0.Add(span * time.Duration(i) / time.Duration(n))
			g.unlocated(u, last, dev, home, allResources[k], r.Float64() >= 0.1)
		}
		g.record(kind, u.name, netip.Addr{}, t0, last.Add(15*time.Minute))
	}
}

// spray: one address tries one password on many accounts, real and made up.
func (g *gen) spray(day, attacker int) {
	r := g.rng
	src := attackerAddr(attacker)
	f := foreign[attacker%len(foreign)]
	c := netctx{ip: src, asn: foreignASN(attacker), country: f.country}
	t0 := g.dayStart(day).Add(time.Duration(r.IntN(86400)) * time.Second)
	n := 12 + r.IntN(14)
	span := time.Duration(120+r.IntN(360)) * time.Second
	var last time.Time
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("guess-%d-%d", attacker, i)
		if r.Float64() < 0.7 {
			name = g.users[r.IntN(len(g.users))].name
		}
		last = t0.Add(span * time.Duration(i) / time.Duration(n))
		g.events = append(g.events, analytics.Event{
			Time: last, Subject: name, SourceIP: c.ip, Country: c.country, ASN: c.asn,
			Resource: "sso", Kind: analytics.KindDecision, Effect: analytics.EffectDeny, Rule: "bad-credentials",
		})
	}
	g.record(analytics.PasswordSpray, "", src, t0, last.Add(15*time.Minute))
}

// located emits an allowed decision with a precise location.
func (g *gen) located(u *user, t time.Time, dev string, c netctx, res string) {
	g.events = append(g.events, analytics.Event{
		Time: t, Subject: u.name, Device: dev, SourceIP: c.ip, Country: c.country, ASN: c.asn,
		Lat: c.p.lat, Lon: c.p.lon, AccuracyKM: 20, HasLocation: true,
		Resource: res, Kind: analytics.KindDecision, Effect: analytics.EffectAllow, Rule: "staff-" + res,
	})
}

// unlocated emits a decision without location.
func (g *gen) unlocated(u *user, t time.Time, dev string, c netctx, res string, allow bool) {
	ev := analytics.Event{
		Time: t, Subject: u.name, Device: dev, SourceIP: c.ip, Country: c.country, ASN: c.asn,
		Resource: res, Kind: analytics.KindDecision, Effect: analytics.EffectAllow, Rule: "staff-" + res,
	}
	if !allow {
		ev.Effect, ev.Rule = analytics.EffectDeny, "default-deny"
	}
	g.events = append(g.events, ev)
}

// farFrom picks an attacker country at least 3,000 km from p.
func farFrom(p place, i int) place {
	for k := 0; k < len(foreign); k++ {
		f := foreign[(i+k)%len(foreign)]
		if distKM(p.lat, p.lon, f.lat, f.lon) >= 3000 {
			return f
		}
	}
	return foreign[0]
}

// dormantIncidents labels the first access of each dormant user after
// their silence. Events must be sorted.
func (g *gen) dormantIncidents() {
	if g.cfg.AttacksPerKind == 0 {
		return
	}
	for _, u := range g.users {
		if u.dormFrom < 0 {
			continue
		}
		wake := g.dayStart(u.dormUntil).Add(-24 * time.Hour) // local hours may start before UTC midnight
		for _, ev := range g.events {
			if ev.Subject == u.name && ev.Kind == analytics.KindDecision && ev.Effect == analytics.EffectAllow && ev.Time.After(wake) {
				g.record(analytics.DormantAccount, u.name, netip.Addr{}, ev.Time, ev.Time.Add(time.Hour))
				break
			}
		}
	}
}

// exfilBytes is the size of an exfiltration: 2 to 20 GiB, or 30 to 48 GiB
// for users who routinely move hundreds of megabytes (50 to 120 times their
// typical flow either way).
func exfilBytes(u *user, k int) uint64 {
	if u.heavy {
		return uint64(30+k) << 30
	}
	return uint64(2+k) << 30
}
