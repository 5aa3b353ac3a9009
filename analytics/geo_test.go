package analytics_test

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonaut/gonaut/analytics"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// buildMMDB writes a tiny MaxMind database of the given type, mapping each
// network to its record.
func buildMMDB(tb testing.TB, dbType string, records map[string]mmdbtype.Map) []byte {
	tb.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, BuildEpoch: 1})
	if err != nil {
		tb.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func cityRecord(iso string, lat, lon float64, acc uint16) mmdbtype.Map {
	return mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String(iso)},
		"location": mmdbtype.Map{
			"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon),
			"accuracy_radius": mmdbtype.Uint16(acc),
		},
	}
}

func asnRecord(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

func testGeo(tb testing.TB) (city, asn []byte) {
	city = buildMMDB(tb, "GeoIP2-City", map[string]mmdbtype.Map{
		"20.0.0.0/16":    cityRecord("DE", berlin[0], berlin[1], 20),
		"81.2.69.0/24":   cityRecord("JP", tokyo[0], tokyo[1], 50),
		"2a02:c7f::/32":  cityRecord("FR", paris[0], paris[1], 100),
		"89.160.20.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("SE")}}, // no location
	})
	asn = buildMMDB(tb, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"20.0.0.0/16":  asnRecord(3320, "Deutsche Telekom AG"),
		"81.2.69.0/24": asnRecord(4713, "NTT"),
	})
	return city, asn
}

func TestMaxMindLookup(t *testing.T) {
	city, asn := testGeo(t)
	dir := t.TempDir()
	cp, ap := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(cp, city, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ap, asn, 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := analytics.OpenMaxMind(cp, ap)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want analytics.Geo
	}{
		{"20.0.1.5", analytics.Geo{Country: "DE", ASN: 3320, Lat: berlin[0], Lon: berlin[1], AccuracyKM: 20, HasLocation: true}},
		{"::ffff:81.2.69.160", analytics.Geo{Country: "JP", ASN: 4713, Lat: tokyo[0], Lon: tokyo[1], AccuracyKM: 50, HasLocation: true}},
		{"2a02:c7f:1::1", analytics.Geo{Country: "FR", Lat: paris[0], Lon: paris[1], AccuracyKM: 100, HasLocation: true}},
		{"89.160.20.1", analytics.Geo{Country: "SE"}},
		{"9.9.9.9", analytics.Geo{}},
	}
	for _, tc := range tests {
		got, err := g.Lookup(netip.MustParseAddr(tc.addr))
		if err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.addr, got, tc.want)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestMaxMindErrors(t *testing.T) {
	if _, err := analytics.NewMaxMind([]byte("not a database"), nil); err == nil {
		t.Fatal("garbage accepted as a city database")
	}
	if _, err := analytics.OpenMaxMind(filepath.Join(t.TempDir(), "missing.mmdb"), ""); err == nil {
		t.Fatal("missing file accepted")
	}
	city, _ := testGeo(t)
	g, err := analytics.NewMaxMind(nil, city) // a city database where the ASN one belongs
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Lookup(netip.MustParseAddr("20.0.1.5")); err == nil {
		t.Fatal("ASN lookup in a city database succeeded")
	}
}

// TestGeoIPEnrichment: events that carry only a source address get their
// country, ASN and location from the database, and the detectors use them.
func TestGeoIPEnrichment(t *testing.T) {
	city, asn := testGeo(t)
	g, err := analytics.NewMaxMind(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	e, err := analytics.New(&analytics.Options{GeoIP: g})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	bare := func(at time.Time, ip string) analytics.Event {
		return analytics.Event{Time: at, Subject: "alice", Device: "laptop", SourceIP: netip.MustParseAddr(ip),
			Resource: "git", Kind: analytics.KindDecision, Effect: analytics.EffectAllow}
	}
	for i := 0; i < 60; i++ {
		mustObserve(t, e, bare(t0.Add(time.Duration(i)*4*time.Hour), "20.0.1.5"))
	}
	at := t0.AddDate(0, 0, 11).Add(10 * time.Hour)
	mustObserve(t, e, bare(at, "20.0.1.5"))
	alerts := mustObserve(t, e, bare(at.Add(30*time.Minute), "81.2.69.160"))
	got := fired(alerts)
	if len(got) != 2 || got[0] != "impossible_travel" || got[1] != "new_country_or_asn" {
		t.Fatalf("fired %v", got)
	}
	if alerts[1].Evidence["country"] != "JP" || alerts[1].Evidence["asn"] != uint32(4713) {
		t.Fatalf("evidence %v", alerts[1].Evidence)
	}
}
