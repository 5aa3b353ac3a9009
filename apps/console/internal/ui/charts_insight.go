package ui

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// seriesClasses is how many colours the stacked charts cycle through;
// app.css defines .s0 … .s7 for both themes with at least 3:1 contrast
// against the card background.
const seriesClasses = 8

// SeriesClass is the CSS class of the i-th series of a stacked chart.
func SeriesClass(i int) string { return fmt.Sprintf("s%d", i%seriesClasses) }

// HourBar is one hour of the detector hits chart: hits per detector.
type HourBar struct {
	Hour time.Time
	Hits map[string]int
}

// DetectorChart draws detector hits per hour as stacked bars, one colour
// per detector in the order of detectors (the legend uses the same
// order). Like the other charts it is an SVG with a title, a description
// that states the totals, and a tooltip per bar.
func DetectorChart(hours []HourBar, detectors []string) string {
	const w, h, pad = 600.0, 180.0, 20.0
	peak, total := 1, 0
	for _, b := range hours {
		n := 0
		for _, c := range b.Hits {
			n += c
		}
		peak, total = max(peak, n), total+n
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart tall" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="dh-t dh-d" preserveAspectRatio="none">`, w, h)
	fmt.Fprintf(&s, `<title id="dh-t">Detector hits per hour</title><desc id="dh-d">Stacked bars of alerts per detector for the last %d hours: %d alerts from %d detectors; peak %d in an hour.</desc>`, len(hours), total, len(detectors), peak)
	fmt.Fprintf(&s, `<line class="axis" x1="0" y1="%.0f" x2="%.0f" y2="%.0f"/>`, h-pad, w, h-pad)
	if n := len(hours); n > 0 {
		label := axisLabel(hours[0].Hour, hours[n-1].Hour)
		bw := w / float64(n)
		for i, b := range hours {
			x := float64(i) * bw
			y := h - pad
			var tip []string
			var rects strings.Builder
			for j, d := range detectors {
				c := b.Hits[d]
				if c == 0 {
					continue
				}
				bh := (h - 2*pad) * float64(c) / float64(peak)
				y -= bh
				fmt.Fprintf(&rects, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, SeriesClass(j), x+1, y, math.Max(bw-2, 1), bh)
				tip = append(tip, fmt.Sprintf("%d %s", c, d))
			}
			if len(tip) == 0 {
				continue
			}
			fmt.Fprintf(&s, `<g><title>%s: %s</title>%s</g>`, label(b.Hour), html.EscapeString(strings.Join(tip, ", ")), rects.String())
		}
		fmt.Fprintf(&s, `<text x="0" y="%.0f" class="label">%s</text>`, h-4, label(hours[0].Hour))
		fmt.Fprintf(&s, `<text x="%.0f" y="%.0f" class="label" text-anchor="end">%s</text>`, w, h-4, label(hours[n-1].Hour))
	}
	fmt.Fprintf(&s, `<text x="0" y="12" class="label">%d/hour</text></svg>`, peak)
	return s.String()
}

// RiskChart draws the users' risk scores (0–100) as horizontal bars,
// highest first, at most limit of them.
func RiskChart(rows []RiskRow, limit int) string {
	rows = rows[:min(len(rows), limit)]
	const w, rowH, labelW = 420.0, 26.0, 150.0
	h := math.Max(rowH*float64(len(rows))+10, 40)
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart bars" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="rk-t rk-d">`, w, h)
	desc := "No user has a risk score yet."
	if len(rows) > 0 {
		var parts []string
		for _, r := range rows {
			parts = append(parts, fmt.Sprintf("%s %d", r.Subject, r.Score))
		}
		desc = "Risk score out of 100 per user: " + strings.Join(parts, "; ") + "."
	}
	fmt.Fprintf(&s, `<title id="rk-t">Risk per user</title><desc id="rk-d">%s</desc>`, html.EscapeString(desc))
	for i, r := range rows {
		y := float64(i)*rowH + 4
		bw := (w - labelW - 40) * float64(r.Score) / 100
		tone := "allow"
		switch {
		case r.Score >= 50:
			tone = "deny"
		case r.Score >= 20:
			tone = "warn"
		}
		fmt.Fprintf(&s, `<g><title>%s: %d</title>`, html.EscapeString(r.Subject), r.Score)
		fmt.Fprintf(&s, `<text x="0" y="%.0f" class="label">%s</text>`, y+15, html.EscapeString(shorten(r.Subject, 24)))
		fmt.Fprintf(&s, `<rect class="%s" x="%.0f" y="%.0f" width="%.1f" height="%.0f"/>`, tone, labelW, y+2, math.Max(bw, 1), rowH-8)
		fmt.Fprintf(&s, `<text x="%.1f" y="%.0f" class="label">%d</text></g>`, labelW+math.Max(bw, 1)+6, y+15, r.Score)
	}
	s.WriteString(`</svg>`)
	return s.String()
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
