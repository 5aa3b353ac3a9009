package ui

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func wellFormed(t *testing.T, name, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("%s: %v\n%s", name, err, svg)
			}
			break
		}
	}
	if !strings.Contains(svg, "<title") || !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, "<desc") {
		t.Errorf("%s: not labelled", name)
	}
	if strings.Contains(svg, "style=") {
		t.Errorf("%s: inline style, which the console's CSP refuses", name)
	}
}

func TestInsightCharts(t *testing.T) {
	h := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	hours := []HourBar{{Hour: h, Hits: map[string]int{"new_device": 2, "impossible_travel": 1}}, {Hour: h.Add(time.Hour), Hits: map[string]int{}}, {Hour: h.Add(2 * time.Hour), Hits: map[string]int{"new_device": 4}}}
	dc := DetectorChart(hours, []string{"new_device", "impossible_travel"})
	wellFormed(t, "detectors", dc)
	wellFormed(t, "detectors empty", DetectorChart(nil, nil))
	if !strings.Contains(dc, "7 alerts from 2 detectors; peak 4") || !strings.Contains(dc, "03:00: 2 new_device, 1 impossible_travel") {
		t.Errorf("detector chart does not state its numbers:\n%s", dc)
	}
	// The same detector keeps its colour in every hour.
	if strings.Count(dc, `class="s0"`) != 2 || strings.Count(dc, `class="s1"`) != 1 {
		t.Errorf("series colours:\n%s", dc)
	}
	// A span across midnight carries dates on its axis and in its tips.
	week := []HourBar{{Hour: h, Hits: map[string]int{"new_device": 1}}, {Hour: h.Add(72 * time.Hour), Hits: map[string]int{"new_device": 1}}}
	wc := DetectorChart(week, []string{"new_device"})
	if !strings.Contains(wc, ">Jan 2 03:00</text>") || !strings.Contains(wc, ">Jan 5 03:00</text>") || !strings.Contains(wc, "<title>Jan 5 03:00: 1 new_device") {
		t.Errorf("a three-day chart has no dates:\n%s", wc)
	}
	if strings.Contains(dc, "Jan 2") {
		t.Errorf("a chart within one day repeats its date:\n%s", dc)
	}
	rc := RiskChart([]RiskRow{{Subject: "a<b>@example.com", Score: 80}, {Subject: "bob", Score: 30}, {Subject: "carol", Score: 0}}, 2)
	wellFormed(t, "risk", rc)
	wellFormed(t, "risk empty", RiskChart(nil, 10))
	if !strings.Contains(rc, "a&lt;b&gt;@example.com 80; bob 30") || strings.Contains(rc, "carol") {
		t.Errorf("risk chart:\n%s", rc)
	}
	if !strings.Contains(rc, `class="deny"`) || !strings.Contains(rc, `class="warn"`) {
		t.Errorf("risk tones:\n%s", rc)
	}
}

func TestEvidence(t *testing.T) {
	kv, raw := Evidence([]byte(`{"km":16960,"to":"AU","hops":["FR","AU"]}`))
	if len(kv) != 3 || kv[0] != (KV{"hops", `["FR","AU"]`}) || kv[1] != (KV{"km", "16960"}) || kv[2] != (KV{"to", "AU"}) {
		t.Errorf("kv = %v", kv)
	}
	if !strings.Contains(raw, "\n  \"km\": 16960") {
		t.Errorf("raw = %q", raw)
	}
	if kv, _ := Evidence([]byte(`[1,2]`)); len(kv) != 1 || kv[0].Value != "[1,2]" {
		t.Errorf("array evidence = %v", kv)
	}
	if kv, _ := Evidence([]byte(`not json`)); len(kv) != 1 || kv[0].Value != "not json" {
		t.Errorf("bad evidence = %v", kv)
	}
	if kv, raw := Evidence(nil); kv != nil || raw != "" {
		t.Error("empty evidence")
	}
}
