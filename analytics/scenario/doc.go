// Package scenario generates labelled synthetic access traffic for
// measuring the analytics detectors: a population of users with diurnal
// habits in their own time zones, devices, home countries and offices, the
// benign variations real people show, and injected attacks of every
// detector's kind, each recorded as an [Incident] with the detectors it
// ought to trigger.
//
// # Use
//
//	sc := scenario.Generate(scenario.Config{Seed: 1})
//	eng, _ := analytics.New(sc.Options())
//	var alerts []analytics.Alert
//	for _, ev := range sc.Events {
//		a, _ := eng.Observe(ev)
//		alerts = append(alerts, a...)
//	}
//	fmt.Print(scenario.Evaluate(sc, alerts).Table())
//
// The same seed always gives the same scenario. [Generate] documents what
// the benign traffic contains; each attack kind is built in attacks.go:
//
//   - impossible travel: a stolen session used from another continent
//     minutes after the user was seen at home (also a new country and ASN);
//   - new device: a few accesses from a device the user never used, from
//     home;
//   - new country or ASN: a known device from a foreign country, without a
//     location;
//   - unusual hour: accesses in the middle of the user's night;
//   - rate spike, three variants (Incident.Variant): a burst, a script
//     making 100 to 300 requests a minute for two to three minutes; a
//     scraper on a stolen session, one request every two seconds for ten
//     minutes; and a slow scraper, one every three to four seconds for 30
//     to 40 minutes. Bursts are AttacksPerKind incidents, scrapers as many
//     again, half of them slow;
//   - denial burst: 15 to 34 denials within a few minutes;
//   - password spray: one foreign address denied for 12 to 25 accounts, real
//     and made up, within two to eight minutes;
//   - exfiltration: one flow 50 to 120 times the user's typical size (at
//     least 2 GiB);
//   - resource sweep: 25 to 40 distinct resources within five to eight
//     minutes, mostly allowed;
//   - dormant account: users who fall silent for five weeks and come back.
//
// Victims are distinct people (never automation accounts), so Users should
// be at least eleven times AttacksPerKind: nine victims per AttacksPerKind
// (password sprays need none, scrapers need their own), AttacksPerKind
// dormant users, and the automation accounts; with fewer, the scrapers and
// then the later attack kinds get fewer incidents.
//
// [Evaluate] scores alerts against the incidents: precision and recall per
// detector, recall per variant, and the alerts that match no incident.
package scenario
