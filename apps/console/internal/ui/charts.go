package ui

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// Bar is one minute of the decisions chart.
type Bar struct {
	Time            time.Time
	Allowed, Denied int
}

// DecisionsChart draws stacked bars of allowed and denied decisions per
// minute as an accessible SVG (a title and a description say what it
// shows; each bar has a tooltip).
func DecisionsChart(bars []Bar) string {
	const w, h, pad = 600.0, 160.0, 20.0
	peak := 1
	for _, b := range bars {
		peak = max(peak, b.Allowed+b.Denied)
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="dc-t dc-d" preserveAspectRatio="none">`, w, h)
	fmt.Fprintf(&s, `<title id="dc-t">Decisions per minute</title><desc id="dc-d">Stacked bars of allowed and denied decisions for the last %d minutes; peak %d per minute.</desc>`, len(bars), peak)
	fmt.Fprintf(&s, `<line class="axis" x1="0" y1="%.0f" x2="%.0f" y2="%.0f"/>`, h-pad, w, h-pad)
	if n := len(bars); n > 0 {
		bw := w / float64(n)
		for i, b := range bars {
			x := float64(i) * bw
			ah := (h - 2*pad) * float64(b.Allowed) / float64(peak)
			dh := (h - 2*pad) * float64(b.Denied) / float64(peak)
			fmt.Fprintf(&s, `<g><title>%s: %d allowed, %d denied</title>`, b.Time.Format("15:04"), b.Allowed, b.Denied)
			fmt.Fprintf(&s, `<rect class="allow" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x+1, h-pad-ah, math.Max(bw-2, 1), ah)
			fmt.Fprintf(&s, `<rect class="deny" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></g>`, x+1, h-pad-ah-dh, math.Max(bw-2, 1), dh)
		}
		label := axisLabel(bars[0].Time, bars[n-1].Time)
		fmt.Fprintf(&s, `<text x="0" y="%.0f" class="label">%s</text>`, h-4, html.EscapeString(label(bars[0].Time)))
		fmt.Fprintf(&s, `<text x="%.0f" y="%.0f" class="label" text-anchor="end">%s</text>`, w, h-4, html.EscapeString(label(bars[n-1].Time)))
	}
	fmt.Fprintf(&s, `<text x="0" y="12" class="label">%d/min</text></svg>`, peak)
	return s.String()
}

// AllowDenyDonut draws the share of allowed decisions as a ring.
func AllowDenyDonut(allowed, denied int) string {
	total := allowed + denied
	frac := 0.0
	if total > 0 {
		frac = float64(allowed) / float64(total)
	}
	const r = 50.0
	c := 2 * math.Pi * r
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="donut" viewBox="0 0 140 140" role="img" aria-labelledby="ad-t"><title id="ad-t">%d allowed and %d denied (%.0f%% allowed)</title>`, allowed, denied, frac*100)
	fmt.Fprintf(&s, `<circle class="deny" cx="70" cy="70" r="%.0f" fill="none" stroke-width="18"/>`, r)
	fmt.Fprintf(&s, `<circle class="allow" cx="70" cy="70" r="%.0f" fill="none" stroke-width="18" stroke-dasharray="%.2f %.2f" transform="rotate(-90 70 70)"/>`, r, c*frac, c)
	fmt.Fprintf(&s, `<text x="70" y="76" text-anchor="middle" class="big-label">%.0f%%</text></svg>`, frac*100)
	return s.String()
}

// axisLabel returns how a chart spanning first to last labels a time: the
// time of day (UTC) alone within one day, with the date once the span
// crosses midnight, so that a week of bars does not read as one day.
func axisLabel(first, last time.Time) func(time.Time) string {
	first, last = first.UTC(), last.UTC()
	layout := "15:04"
	if first.YearDay() != last.YearDay() || first.Year() != last.Year() {
		layout = "Jan 2 15:04"
	}
	return func(t time.Time) string { return t.UTC().Format(layout) }
}
