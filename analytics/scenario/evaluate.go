package scenario

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gonaut/gonaut/analytics"
)

// Row is the quality of one detector over one scenario.
type Row struct {
	Detector  analytics.Detector
	Incidents int // incidents that expect this detector
	Detected  int // of those, incidents with at least one matching alert
	Alerts    int // alerts the detector raised
	Matched   int // of those, alerts attributable to an incident that expects it
}

// Recall is Detected/Incidents (1 when there are no incidents).
func (r Row) Recall() float64 {
	if r.Incidents == 0 {
		return 1
	}
	return float64(r.Detected) / float64(r.Incidents)
}

// Precision is Matched/Alerts (1 when there are no alerts).
func (r Row) Precision() float64 {
	if r.Alerts == 0 {
		return 1
	}
	return float64(r.Matched) / float64(r.Alerts)
}

// VariantRow is the recall on one variant of an attack kind (see
// Incident.Variant): how many of its incidents an alert of the kind's own
// detector matched.
type VariantRow struct {
	Kind      analytics.Detector
	Variant   string
	Incidents int
	Detected  int
}

// Recall is Detected/Incidents (1 when there are no incidents).
func (r VariantRow) Recall() float64 {
	if r.Incidents == 0 {
		return 1
	}
	return float64(r.Detected) / float64(r.Incidents)
}

// Report is the quality of every detector over one scenario.
type Report struct {
	Events   int
	Rows     []Row        // one per detector, in analytics.Detectors order
	Variants []VariantRow // one per variant present, by kind, then name
}

// Variant returns the row of one variant of kind.
func (r Report) Variant(kind analytics.Detector, variant string) VariantRow {
	for _, v := range r.Variants {
		if v.Kind == kind && v.Variant == variant {
			return v
		}
	}
	return VariantRow{Kind: kind, Variant: variant}
}

// Row returns the row of d.
func (r Report) Row(d analytics.Detector) Row {
	for _, row := range r.Rows {
		if row.Detector == d {
			return row
		}
	}
	return Row{Detector: d}
}

// FalseAlerts is the number of alerts not attributable to any incident.
func (r Report) FalseAlerts() int {
	n := 0
	for _, row := range r.Rows {
		n += row.Alerts - row.Matched
	}
	return n
}

// slack lets an alert be attributed to an incident that starts a moment
// after it (events inside one second are not ordered by the generator).
const slack = time.Minute

// matches reports whether alert a is attributable to incident in.
func matches(in *Incident, a *analytics.Alert) bool {
	if !slices.Contains(in.Expect, a.Detector) {
		return false
	}
	if in.Subject != "" && in.Subject != a.Subject {
		return false
	}
	if in.Subject == "" && in.Source != a.SourceIP {
		return false
	}
	return !a.Time.Before(in.Start.Add(-slack)) && !a.Time.After(in.End)
}

// Evaluate scores alerts against the scenario's incidents: an alert is a
// true positive if it is of a detector the incident expects, for the
// incident's subject (or source), within its time span; an incident is
// detected by a detector it expects if at least one such alert matches it.
func Evaluate(sc *Scenario, alerts []analytics.Alert) Report {
	rep := Report{Events: len(sc.Events)}
	rows := map[analytics.Detector]*Row{}
	for _, d := range analytics.Detectors() {
		rows[d] = &Row{Detector: d}
	}
	detected := make([]map[analytics.Detector]bool, len(sc.Incidents))
	for i := range sc.Incidents {
		detected[i] = map[analytics.Detector]bool{}
		for _, d := range sc.Incidents[i].Expect {
			rows[d].Incidents++
		}
	}
	for k := range alerts {
		a := &alerts[k]
		row := rows[a.Detector]
		if row == nil {
			continue
		}
		row.Alerts++
		hit := false
		for i := range sc.Incidents {
			if matches(&sc.Incidents[i], a) {
				hit = true
				detected[i][a.Detector] = true
			}
		}
		if hit {
			row.Matched++
		}
	}
	for i := range sc.Incidents {
		for d := range detected[i] {
			rows[d].Detected++
		}
	}
	for i := range sc.Incidents {
		in := &sc.Incidents[i]
		if in.Variant == "" {
			continue
		}
		k := slices.IndexFunc(rep.Variants, func(v VariantRow) bool { return v.Kind == in.Kind && v.Variant == in.Variant })
		if k < 0 {
			rep.Variants = append(rep.Variants, VariantRow{Kind: in.Kind, Variant: in.Variant})
			k = len(rep.Variants) - 1
		}
		rep.Variants[k].Incidents++
		if detected[i][in.Kind] {
			rep.Variants[k].Detected++
		}
	}
	slices.SortFunc(rep.Variants, func(a, b VariantRow) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Variant, b.Variant))
	})
	for _, d := range analytics.Detectors() {
		rep.Rows = append(rep.Rows, *rows[d])
	}
	return rep
}

// Table renders the report as a Markdown table.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| detector | incidents | detected | recall | alerts | true | precision |\n")
	fmt.Fprintf(&b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %.3f | %d | %d | %.3f |\n",
			row.Detector, row.Incidents, row.Detected, row.Recall(), row.Alerts, row.Matched, row.Precision())
	}
	if len(r.Variants) > 0 {
		fmt.Fprintf(&b, "\n| attack | variant | incidents | detected | recall |\n")
		fmt.Fprintf(&b, "| --- | --- | ---: | ---: | ---: |\n")
		for _, v := range r.Variants {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %.3f |\n", v.Kind, v.Variant, v.Incidents, v.Detected, v.Recall())
		}
	}
	return b.String()
}
