package scenario

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// Config sizes a scenario. The zero value gives the defaults.
type Config struct {
	Seed  uint64    // same seed, same scenario
	Users int       // default 300
	Days  int       // default 56; at least 50 so that dormant accounts can wake up
	Start time.Time // default Monday 2026-01-05 00:00 UTC; truncated to a day

	// AttacksPerKind is how many incidents of each kind to inject.
	// Default 20. AttackFree injects none (and no dormant accounts).
	AttacksPerKind int
	AttackFree     bool
}

// An Incident is one injected attack and the detectors that, by its
// construction, ought to fire on it.
type Incident struct {
	Kind    analytics.Detector   // the attack's kind
	Expect  []analytics.Detector // every detector it should trigger (includes Kind)
	Subject string               // the victim, or "" for source-level attacks
	Source  netip.Addr           // the attacker's address, for source-level attacks
	Start   time.Time            // first attack event
	End     time.Time            // last moment an alert is attributable to it
	// Variant names the shape of an attack whose kind has several (rate
	// spikes: "burst", "scraper", "slow scraper"); empty otherwise.
	Variant string
}

// A Scenario is a labelled event stream, sorted by time.
type Scenario struct {
	Events    []analytics.Event
	Incidents []Incident
	// CorporateEgress is the organisation's VPN egress, to be passed in
	// analytics.Options so that it is not mistaken for travel.
	CorporateEgress []netip.Prefix
	// Automation names the automation accounts (around-the-clock services
	// and nightly jobs); every other subject is a person.
	Automation []string
}

// Options returns engine options that match the scenario (its corporate
// egress); everything else is the engine's default.
func (s *Scenario) Options() *analytics.Options {
	return &analytics.Options{CorporateEgress: s.CorporateEgress}
}

type user struct {
	name       string
	home       int // index in places
	isp        int
	mobile     int // mobile ISP index, -1 if none
	net, host  int // home address within the ISP
	devices    []string
	resources  []string
	weights    []float64 // cumulative preference over resources
	start, len float64   // working hours, local
	office     float64   // share of weekdays at the office
	vpn        bool
	second     int  // second work place, -1 if none
	dormFrom   int  // first silent day, -1 if never dormant
	dormUntil  int  // first active day after the silence
	heavy      bool // moves large files every day: flows of hundreds of MB
	service    bool // an automation account: busy around the clock, hourly batches
	nightly    bool // an automation account that only runs a job every night
}

type netctx struct {
	ip      netip.Addr
	asn     uint32
	country string
	p       place
	precise bool // false: the location is the country centroid
}

type gen struct {
	cfg       Config
	rng       *rand.Rand
	users     []*user
	events    []analytics.Event
	incidents []Incident
	start     time.Time
}

var allResources = func() []string {
	r := make([]string, 0, 300)
	for i := 0; i < 200; i++ {
		r = append(r, fmt.Sprintf("svc-%03d", i))
	}
	for i := 0; i < 100; i++ {
		r = append(r, fmt.Sprintf("restricted-%03d", i))
	}
	return r
}()

// Generate builds a scenario: users with diurnal working hours in their own
// time zones, one to three devices, a home ISP (some with a mobile ISP too),
// an office, a few habitual resources, and the benign variations the
// detectors must tolerate — working late or early by up to two hours,
// weekend work, bursts of requests, busy mornings (from day 14 on, on about
// one workday in 50, two to four decisions a minute for 60 to 120
// minutes), occasional denials, a second work site in a neighbouring
// country reached overnight, days behind the corporate VPN (egress in
// another country), low-accuracy geolocation, large but ordinary
// downloads, an office NAT address shared by everyone in a country, a few
// users who move hundreds of megabytes per flow every day, automation
// accounts (one user in 100) busy around the clock with a batch of about a
// hundred requests in a minute every six hours, and nightly-job accounts
// (one in 50) that make one request every two seconds for about ten
// minutes every night. Each user shows all their habits within the first
// days (onboarding), so that the learning period covers them.
//
// Unless AttackFree, it then injects AttacksPerKind incidents of each
// detector's kind, on distinct victims, from day 14 on, as many again
// sustained rate spikes (scrapers), and makes AttacksPerKind users fall
// silent for five weeks before coming back.
func Generate(cfg Config) *Scenario {
	if cfg.Users <= 0 {
		cfg.Users = 300
	}
	if cfg.Days <= 0 {
		cfg.Days = 56
	}
	cfg.Days = max(cfg.Days, 50)
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if cfg.AttacksPerKind <= 0 {
		cfg.AttacksPerKind = 20
	}
	if cfg.AttackFree {
		cfg.AttacksPerKind = 0
	}
	g := &gen{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed5eed5eed5eed)),
		start: cfg.Start.UTC().Truncate(24 * time.Hour),
	}
	g.makeUsers()
	for day := 0; day < cfg.Days; day++ {
		for _, u := range g.users {
			g.day(u, day)
		}
	}
	g.attacks()
	slices.SortStableFunc(g.events, func(a, b analytics.Event) int { return a.Time.Compare(b.Time) })
	g.dormantIncidents()
	slices.SortStableFunc(g.incidents, func(a, b Incident) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), a.Start.Compare(b.Start))
	})
	var auto []string
	for _, u := range g.users {
		if u.automation() {
			auto = append(auto, u.name)
		}
	}
	return &Scenario{Events: g.events, Incidents: g.incidents, CorporateEgress: []netip.Prefix{vpnPrefix}, Automation: auto}
}

func (g *gen) makeUsers() {
	nDormant := g.cfg.AttacksPerKind
	for i := 0; i < g.cfg.Users; i++ {
		r := g.rng
		u := &user{
			name:     fmt.Sprintf("user%04d", i),
			home:     r.IntN(len(places)),
			isp:      r.IntN(3),
			mobile:   -1,
			net:      r.IntN(256),
			host:     1 + r.IntN(250),
			start:    7 + 3*r.Float64(),
			len:      7.5 + 2.5*r.Float64(),
			office:   0.2 + 0.6*r.Float64(),
			vpn:      r.Float64() < 0.25,
			second:   -1,
			dormFrom: -1,
		}
		if r.Float64() < 0.3 {
			u.mobile = (u.isp + 1 + r.IntN(2)) % 3
		}
		if r.Float64() < 0.15 {
			if n := neighbour(u.home); n >= 0 {
				u.second = n
			}
		}
		for d := 0; d < 1+r.IntN(3); d++ {
			u.devices = append(u.devices, fmt.Sprintf("dev-%s-%c", u.name, 'a'+d))
		}
		n := 4 + r.IntN(7)
		for _, k := range r.Perm(200)[:n] {
			u.resources = append(u.resources, allResources[k])
		}
		total := 0.0
		for k := range u.resources {
			total += 1 / float64(k+1)
			u.weights = append(u.weights, total)
		}
		u.heavy = r.Float64() < 0.05
		if i%100 == 99 {
			u.service, u.heavy = true, false
			u.devices = []string{"runner-" + u.name}
		}
		if i%50 == 24 {
			u.nightly, u.heavy = true, false
			u.devices = []string{"job-" + u.name}
		}
		if i < nDormant && !u.automation() {
			// Users 0..n-1 go silent; they are not attack victims.
			u.dormFrom = 10 + r.IntN(4)
			u.dormUntil = u.dormFrom + 32 + r.IntN(5)
		}
		g.users = append(g.users, u)
	}
}

// automation reports whether u is an automation account rather than a
// person: never an attack victim, never dormant.
func (u *user) automation() bool { return u.service || u.nightly }

// neighbour returns a place within about 1,500 km of places[i], or -1.
func neighbour(i int) int {
	var cands []int
	for j, p := range places {
		if j != i && distKM(places[i].lat, places[i].lon, p.lat, p.lon) < 1500 {
			cands = append(cands, j)
		}
	}
	if len(cands) == 0 {
		return -1
	}
	return cands[i%len(cands)]
}

func distKM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	a := math.Sin((lat2-lat1)*rad/2)*math.Sin((lat2-lat1)*rad/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin((lon2-lon1)*rad/2)*math.Sin((lon2-lon1)*rad/2)
	return 2 * 6371 * math.Asin(math.Sqrt(a))
}

// dayStart is midnight UTC of day d.
func (g *gen) dayStart(d int) time.Time { return g.start.AddDate(0, 0, d) }

// at converts a local hour of day d for u to UTC, with a random second.
func (g *gen) at(u *user, d int, hour float64) time.Time {
	tz := places[u.home].tz
	return g.dayStart(d).Add(time.Duration((hour - float64(tz)) * float64(time.Hour))).
		Add(time.Duration(g.rng.IntN(1e9)) * time.Nanosecond)
}

func (g *gen) home(u *user) netctx {
	return netctx{ip: ispAddr(u.home, u.isp, u.net, u.host), asn: ispASN(u.home, u.isp),
		country: places[u.home].country, p: places[u.home], precise: true}
}

func (g *gen) day(u *user, d int) {
	r := g.rng
	if u.dormFrom >= 0 && d >= u.dormFrom && d < u.dormUntil {
		return
	}
	if u.service {
		g.serviceDay(u, d)
		return
	}
	if u.nightly {
		g.nightlyJob(u, d)
		return
	}
	wd := g.dayStart(d).Weekday()
	workday := wd != time.Saturday && wd != time.Sunday
	onboarding := d < 5
	switch {
	case onboarding:
	case workday && r.Float64() > 0.95:
		return
	case !workday && r.Float64() > 0.15:
		return
	}
	// Where the user works today.
	ctx := g.home(u)
	switch {
	case d == 1 || (!onboarding && workday && r.Float64() < u.office):
		ctx = netctx{ip: officeAddr(u.home), asn: officeASN(u.home), country: places[u.home].country, p: places[u.home], precise: true}
	case u.second >= 0 && (d == 3 || (!onboarding && workday && r.Float64() < 0.05)):
		p := places[u.second]
		ctx = netctx{ip: officeAddr(u.second), asn: officeASN(u.second), country: p.country, p: p, precise: true}
	case u.vpn && !onboarding && r.Float64() < 0.1:
		ctx = netctx{ip: vpnAddr(1 + r.IntN(20)), asn: vpnASN, country: vpnCountry,
			p: place{country: vpnCountry, lat: vpnLat, lon: vpnLon, clat: vpnLat, clon: vpnLon}, precise: true}
	}
	lo, hi := u.start, u.start+u.len
	n := 12 + r.IntN(20)
	if !workday {
		lo, hi, n = 10, 16, 1+r.IntN(8)
	}
	for i := 0; i < n; i++ {
		h := lo + (hi-lo)*r.Float64()
		if r.Float64() < 0.04 { // working a little early or late
			if r.IntN(2) == 0 {
				h = lo - 2*r.Float64()
			} else {
				h = hi + 2*r.Float64()
			}
		}
		t := g.at(u, d, h)
		dev := u.devices[r.IntN(len(u.devices))]
		if onboarding && i < len(u.devices) {
			dev = u.devices[i]
		}
		c := ctx
		if u.mobile >= 0 && ctx.ip == g.home(u).ip && (r.Float64() < 0.1 || (onboarding && i == 0)) {
			c.ip = ispAddr(u.home, u.mobile, r.IntN(256), 1+r.IntN(250))
			c.asn = ispASN(u.home, u.mobile)
		}
		if ctx.ip == g.home(u).ip && r.Float64() < 0.02 { // a new DHCP lease, same ISP
			c.ip = ispAddr(u.home, u.isp, r.IntN(256), 1+r.IntN(250))
		}
		burst := 1
		if r.Float64() < 0.02 {
			burst = 5 + r.IntN(16)
		}
		for b := 0; b < burst; b++ {
			tb := t
			t = t.Add(time.Duration(1+r.IntN(4e9)) * time.Nanosecond)
			g.access(u, tb, dev, c, g.resource(u), r.Float64() >= 0.03, true)
		}
	}
	if workday && d >= 14 && r.Float64() < 0.02 {
		g.busyMorning(u, d, ctx)
	}
}

// busyMorning is a person's busiest kind of day: from the start of their
// working day, 60 to 120 minutes at 2 to 4 decisions a minute on their
// usual resources and devices, on top of the day's ordinary traffic. It is
// many times their usual rate per window, for far longer than a burst, and
// it is what the rate detector's absolute floors must stay above. Busy
// mornings come after the learning period, from day 14 on: one in a
// subject's first week would hold most of their young hour histogram, and
// their ordinary hours would then look unusual.
func (g *gen) busyMorning(u *user, d int, ctx netctx) {
	r := g.rng
	span := 60 + 60*r.Float64() // minutes
	n := int(span * (2 + 2*r.Float64()))
	start := g.at(u, d, u.start)
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(r.Float64() * span * float64(time.Minute)))
		g.access(u, t, u.devices[r.IntN(len(u.devices))], ctx, g.resource(u), r.Float64() >= 0.03, true)
	}
}

func (g *gen) resource(u *user) string {
	x := g.rng.Float64() * u.weights[len(u.weights)-1]
	i, _ := slices.BinarySearch(u.weights, x)
	return u.resources[min(i, len(u.resources)-1)]
}

// access emits a decision and, for most allowed ones, the flow that follows.
func (g *gen) access(u *user, t time.Time, dev string, c netctx, res string, allow, flow bool) analytics.Event {
	r := g.rng
	ev := analytics.Event{
		Time: t, Subject: u.name, Device: dev, SourceIP: c.ip, Country: c.country, ASN: c.asn,
		Resource: res, Kind: analytics.KindDecision, Effect: analytics.EffectAllow, Rule: "staff-" + res,
	}
	if !allow {
		ev.Effect, ev.Rule = analytics.EffectDeny, "default-deny"
		if r.IntN(2) == 0 {
			ev.Resource = allResources[200+r.IntN(100)]
		}
	}
	switch x := r.Float64(); {
	case !c.precise || x < 0.05: // country-level lookup only
		ev.Lat, ev.Lon, ev.AccuracyKM, ev.HasLocation = c.p.clat, c.p.clon, 1000, true
	case x < 0.15: // no location at all
	default:
		ev.Lat = c.p.lat + (r.Float64()-0.5)*0.4
		ev.Lon = c.p.lon + (r.Float64()-0.5)*0.4
		ev.AccuracyKM = float64(10 + r.IntN(40))
		ev.HasLocation = true
	}
	g.events = append(g.events, ev)
	if allow && flow && r.Float64() < 0.7 {
		f := ev
		f.Kind, f.Rule = analytics.KindFlow, ""
		f.Duration = time.Duration(1+r.IntN(1800)) * time.Second
		f.Time = t.Add(f.Duration)
		out := min(math.Exp(math.Log(300e3)+1.3*r.NormFloat64()), 2e8)
		if r.Float64() < 0.003 {
			out = 50e6 + 150e6*r.Float64() // a big, ordinary download
		}
		if u.heavy {
			out = min(math.Exp(math.Log(400e6)+0.8*r.NormFloat64()), 4e9)
		}
		f.BytesOut = uint64(out)
		f.BytesIn = uint64(math.Exp(math.Log(20e3) + r.NormFloat64()))
		g.events = append(g.events, f)
	}
	return ev
}

// nightlyJob is a day of an account that runs one job every night: from
// about 02:00 UTC (give or take a quarter of an hour), one request every
// two seconds for 8 to 12 minutes from a data-centre address — the same
// shape as a scraper on a stolen session, but every night, so that the
// rate detector must learn it.
func (g *gen) nightlyJob(u *user, d int) {
	r := g.rng
	c := netctx{ip: officeAddr(u.home), asn: officeASN(u.home), country: places[u.home].country, p: places[u.home], precise: true}
	t := g.dayStart(d).Add(2*time.Hour + time.Duration(r.IntN(1800)-900)*time.Second)
	end := t.Add(time.Duration(8*60+r.IntN(4*60)) * time.Second)
	for i := 0; t.Before(end); i++ {
		g.access(u, t, u.devices[0], c, g.resource(u), true, i%30 == 0)
		t = t.Add(2*time.Second + time.Duration(r.IntN(200e6)-100e6))
	}
}

// serviceDay is a day of an automation account: a request every ten
// minutes around the clock from a data-centre address, and every six hours
// a batch of 80 to 120 requests within a minute.
func (g *gen) serviceDay(u *user, d int) {
	r := g.rng
	c := netctx{ip: officeAddr(u.home), asn: officeASN(u.home), country: places[u.home].country, p: places[u.home], precise: true}
	for h := 0; h < 24; h++ {
		hour := g.dayStart(d).Add(time.Duration(h) * time.Hour)
		if h%6 == 0 {
			n := 80 + r.IntN(41)
			for i := 0; i < n; i++ {
				g.access(u, hour.Add(time.Duration(i)*time.Minute/time.Duration(n)+time.Duration(r.IntN(1e6))), u.devices[0], c, g.resource(u), true, i%20 == 0)
			}
		}
		for m := 5; m < 60; m += 10 {
			g.access(u, hour.Add(time.Duration(m)*time.Minute+time.Duration(r.IntN(1e9))), u.devices[0], c, g.resource(u), r.Float64() >= 0.01, true)
		}
	}
}
