package ui

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestChartsAreWellFormedSVG(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	bars := []Bar{{Time: now, Allowed: 3, Denied: 1}, {Time: now.Add(time.Minute), Allowed: 0, Denied: 5}}
	for name, svg := range map[string]string{
		"chart": DecisionsChart(bars), "empty": DecisionsChart(nil),
		"donut": AllowDenyDonut(3, 1), "zero": AllowDenyDonut(0, 0),
	} {
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: %v", name, err)
				}
				break
			}
		}
		if !strings.Contains(svg, "<title") || !strings.Contains(svg, `role="img"`) {
			t.Errorf("%s: not labelled", name)
		}
	}
	if !strings.Contains(DecisionsChart(bars), "peak 5 per minute") {
		t.Error("chart description misses the peak")
	}
	if !strings.Contains(AllowDenyDonut(3, 1), "75%") {
		t.Error("donut misses the share")
	}
}
