package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// analyticsGW runs the gateway's main in-process.
func analyticsGW(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// analyticsStream generates a labelled stream with the generate
// subcommand and returns the events file and the labels file.
func analyticsStream(t *testing.T, extra ...string) (events, labels string) {
	t.Helper()
	dir := t.TempDir()
	labels = filepath.Join(dir, "labels.jsonl")
	args := append([]string{"analytics", "generate", "--seed", "5", "--users", "30", "--days", "50", "--attacks", "2", "--labels", labels}, extra...)
	code, out, errOut := analyticsGW(t, args...)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errOut)
	}
	events = filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return events, labels
}

func TestAnalyticsReplay(t *testing.T) {
	events, labels := analyticsStream(t)
	snap := filepath.Join(t.TempDir(), "baselines.snap")
	code, out, errOut := analyticsGW(t, "analytics", "replay", "--events", events, "--snapshot", snap, "--corporate", "198.51.100.0/24")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	// Every stdout line is an alert with the documented fields.
	seen := map[string]bool{}
	var alerts []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var a map[string]any
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		for _, f := range []string{"time", "detector", "severity", "score", "reason"} {
			if _, ok := a[f]; !ok {
				t.Fatalf("alert %q lacks %s", sc.Text(), f)
			}
		}
		seen[a["detector"].(string)] = true
		alerts = append(alerts, a)
	}
	// Every injected kind was detected.
	lb, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	scrapers := 0
	for _, line := range strings.Split(strings.TrimSpace(string(lb)), "\n") {
		var in struct {
			Kind, Subject, Variant string
			Start, End             time.Time
		}
		if err := json.Unmarshal([]byte(line), &in); err != nil {
			t.Fatal(err)
		}
		if !seen[in.Kind] {
			t.Errorf("no %s alert for an injected %s incident", in.Kind, in.Kind)
		}
		if in.Variant != "scraper" && in.Variant != "slow scraper" {
			continue
		}
		// A scraper never reaches 60 decisions in a minute: it is caught
		// on a longer window, which the alert names.
		scrapers++
		found := false
		for _, a := range alerts {
			at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(a["time"]))
			ev, _ := a["evidence"].(map[string]any)
			if a["detector"] == "rate_spike" && a["subject"] == in.Subject && !at.Before(in.Start) && !at.After(in.End) &&
				(ev["window"] == "5m" || ev["window"] == "15m") {
				found = true
			}
		}
		if !found {
			t.Errorf("no rate_spike alert naming a 5m or 15m window for the %s on %s at %s", in.Variant, in.Subject, in.Start)
		}
	}
	if scrapers == 0 {
		t.Error("the generated stream has no scrapers")
	}
	for _, want := range []string{"events read", "subjects tracked", "alerts", "baselines saved to " + snap} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}

	// A second replay starts from the snapshot.
	code, _, errOut = analyticsGW(t, "analytics", "replay", "--events", events, "--snapshot", snap)
	if code != 0 || !strings.Contains(errOut, "baselines restored from "+snap) {
		t.Fatalf("second replay: exit %d:\n%s", code, errOut)
	}
	// Replaying the same events again is all out of order now.
	if !strings.Contains(errOut, "out of order") {
		t.Fatalf("summary:\n%s", errOut)
	}
}

func TestAnalyticsReplayBadSnapshot(t *testing.T) {
	events, _ := analyticsStream(t, "--attack-free")
	snap := filepath.Join(t.TempDir(), "baselines.snap")
	bad := []byte("GNAUTAN\x00\x01\x00\x00\x00garbage")
	if err := os.WriteFile(snap, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := analyticsGW(t, "analytics", "replay", "--events", events, "--snapshot", snap)
	if code != 1 || out != "" || !strings.Contains(errOut, "bad snapshot") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(snap); !bytes.Equal(got, bad) {
		t.Fatal("a bad snapshot file was overwritten")
	}
}

func TestAnalyticsReplayBadLines(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events.jsonl")
	lines := []string{
		`{"time":"2026-03-02T10:00:00Z","subject":"alice","kind":"decision","effect":"allow","resource":"git"}`,
		`{"time":"2026-03-02T10:00:00Z","subject":"alice","kind":"decision","effect":"allow","resource":"git"}`,
		`{"subject":"alice"}`,
		`not json`,
		`{"time":"2026-03-01T10:00:00Z","subject":"alice","kind":"decision","effect":"allow"}`,
		`{"time":"2026-03-02T10:01:00Z","subject":"bob","kind":"flow","bytes_out":10}`,
	}
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := analyticsGW(t, "analytics", "replay", "--events", events)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"line 3: analytics: invalid event: missing time", "line 4:", "event 5 (alice"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, row := range [][2]string{{"events read", "6"}, {"applied", "2"}, {"invalid", "2"}, {"out of order", "1"}, {"duplicate", "1"}} {
		if !strings.Contains(errOut, row[0]) || !containsRow(errOut, row[0], row[1]) {
			t.Errorf("summary row %s should be %s:\n%s", row[0], row[1], errOut)
		}
	}
	if code, _, _ := analyticsGW(t, "analytics", "replay", "--strict", "--events", events); code != 1 {
		t.Fatalf("--strict with rejected events: exit %d, want 1", code)
	}
}

func containsRow(s, label, value string) bool {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.Join(f[:len(f)-1], " ") == label && f[len(f)-1] == value {
			return true
		}
	}
	return false
}

func TestAnalyticsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"analytics"},
		{"analytics", "frobnicate"},
		{"analytics", "replay"},
		{"analytics", "replay", "--events", "x", "--corporate", "not-a-cidr"},
		{"analytics", "replay", "--events", "x", "extra"},
		{"analytics", "generate", "--users", "-1"},
	} {
		if code, _, errOut := analyticsGW(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	if code, _, errOut := analyticsGW(t, "analytics", "replay", "--events", filepath.Join(t.TempDir(), "missing")); code != 1 {
		t.Errorf("missing file: exit %d: %s", code, errOut)
	}
	if code, _, errOut := analyticsGW(t, "analytics", "-h"); code != 0 || !strings.Contains(errOut, "gateway analytics replay") {
		t.Errorf("help: exit %d: %s", code, errOut)
	}
}

func TestAnalyticsGenerateIsReadable(t *testing.T) {
	events, _ := analyticsStream(t)
	f, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := analytics.NewDecoder(f)
	n := 0
	for {
		var ev analytics.Event
		if err := d.Decode(&ev); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("event %d: %v", n+1, err)
		}
		n++
	}
	if n < 10000 {
		t.Fatalf("only %d events", n)
	}
}

// TestAnalyticsReplayGeoIP: events that carry only a source address are
// located through MaxMind databases given on the command line.
func TestAnalyticsReplayGeoIP(t *testing.T) {
	dir := t.TempDir()
	mmdb := func(name, dbType string, records map[string]mmdbtype.Map) string {
		w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24})
		if err != nil {
			t.Fatal(err)
		}
		for cidr, rec := range records {
			_, n, _ := net.ParseCIDR(cidr)
			if err := w.Insert(n, rec); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	city := mmdb("city.mmdb", "GeoIP2-City", map[string]mmdbtype.Map{
		"20.0.0.0/16":  {"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}, "location": mmdbtype.Map{"latitude": mmdbtype.Float64(52.52), "longitude": mmdbtype.Float64(13.40), "accuracy_radius": mmdbtype.Uint16(20)}},
		"81.2.69.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("JP")}, "location": mmdbtype.Map{"latitude": mmdbtype.Float64(35.68), "longitude": mmdbtype.Float64(139.69), "accuracy_radius": mmdbtype.Uint16(50)}},
	})
	asn := mmdb("asn.mmdb", "GeoLite2-ASN", map[string]mmdbtype.Map{
		"20.0.0.0/16":  {"autonomous_system_number": mmdbtype.Uint32(3320)},
		"81.2.69.0/24": {"autonomous_system_number": mmdbtype.Uint32(4713)},
	})
	var lines []string
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 60; i++ {
		lines = append(lines, fmt.Sprintf(`{"time":%q,"subject":"alice","device":"laptop","source_ip":"20.0.1.5","resource":"git","kind":"decision","effect":"allow"}`,
			start.Add(time.Duration(i)*4*time.Hour).Format(time.RFC3339)))
	}
	at := start.Add(60 * 4 * time.Hour)
	lines = append(lines,
		fmt.Sprintf(`{"time":%q,"subject":"alice","device":"laptop","source_ip":"20.0.1.5","resource":"git","kind":"decision","effect":"allow"}`, at.Format(time.RFC3339)),
		fmt.Sprintf(`{"time":%q,"subject":"alice","device":"laptop","source_ip":"81.2.69.160","resource":"git","kind":"decision","effect":"allow"}`, at.Add(20*time.Minute).Format(time.RFC3339)))
	events := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := analyticsGW(t, "analytics", "replay", "--events", events, "--geoip-city", city, "--geoip-asn", asn)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"detector":"impossible_travel"`) || !strings.Contains(out, "connected from JP") {
		t.Fatalf("alerts:\n%s", out)
	}
	if code, _, _ := analyticsGW(t, "analytics", "replay", "--events", events, "--geoip-city", events); code != 1 {
		t.Fatalf("a non-database GeoIP file: exit %d, want 1", code)
	}
}
