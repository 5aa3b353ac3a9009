package analytics

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/geoip2-golang/v2"
)

// A GeoIP resolves a source address to where it is and who routes it.
type GeoIP interface {
	// Lookup returns what is known about addr. An address the database
	// does not cover is not an error: Lookup returns a zero Geo and nil.
	// It must be safe for concurrent use.
	Lookup(addr netip.Addr) (Geo, error)
}

// Geo is what a GeoIP knows about one address.
type Geo struct {
	Country     string  // ISO 3166-1 alpha-2, "" if unknown
	ASN         uint32  // 0 if unknown
	Lat, Lon    float64 // valid when HasLocation
	AccuracyKM  float64 // radius of uncertainty, 0 if unknown
	HasLocation bool
}

// MaxMind is a [GeoIP] over MaxMind databases: a City (or Country)
// database for country and location and an ASN database for the autonomous
// system. Either may be absent. Lookup is safe for concurrent use.
type MaxMind struct {
	city, asn *geoip2.Reader
}

var _ GeoIP = (*MaxMind)(nil)

// OpenMaxMind opens the databases at cityPath and asnPath; an empty path
// skips that database.
func OpenMaxMind(cityPath, asnPath string) (*MaxMind, error) {
	m := &MaxMind{}
	var err error
	if cityPath != "" {
		if m.city, err = geoip2.Open(cityPath); err != nil {
			return nil, fmt.Errorf("analytics: open city database: %w", err)
		}
	}
	if asnPath != "" {
		if m.asn, err = geoip2.Open(asnPath); err != nil {
			m.Close()
			return nil, fmt.Errorf("analytics: open asn database: %w", err)
		}
	}
	return m, nil
}

// NewMaxMind returns a MaxMind over databases held in memory; either may be
// nil.
func NewMaxMind(city, asn []byte) (*MaxMind, error) {
	m := &MaxMind{}
	var err error
	if city != nil {
		if m.city, err = geoip2.OpenBytes(city); err != nil {
			return nil, fmt.Errorf("analytics: read city database: %w", err)
		}
	}
	if asn != nil {
		if m.asn, err = geoip2.OpenBytes(asn); err != nil {
			m.Close()
			return nil, fmt.Errorf("analytics: read asn database: %w", err)
		}
	}
	return m, nil
}

// Lookup implements GeoIP.
func (m *MaxMind) Lookup(addr netip.Addr) (Geo, error) {
	var g Geo
	addr = addr.Unmap()
	if m.city != nil {
		c, err := m.city.City(addr)
		if err != nil {
			return Geo{}, fmt.Errorf("analytics: city lookup %s: %w", addr, err)
		}
		g.Country = c.Country.ISOCode
		if c.Location.Latitude != nil && c.Location.Longitude != nil {
			g.Lat, g.Lon, g.HasLocation = *c.Location.Latitude, *c.Location.Longitude, true
			g.AccuracyKM = float64(c.Location.AccuracyRadius)
		}
	}
	if m.asn != nil {
		a, err := m.asn.ASN(addr)
		if err != nil {
			return Geo{}, fmt.Errorf("analytics: asn lookup %s: %w", addr, err)
		}
		if a.AutonomousSystemNumber <= 1<<32-1 {
			g.ASN = uint32(a.AutonomousSystemNumber)
		}
	}
	return g, nil
}

// Close releases the databases. It is safe to call more than once, but not
// while lookups are in progress: close the engine's users first.
func (m *MaxMind) Close() error {
	var errs []error
	if m.city != nil {
		errs = append(errs, m.city.Close())
		m.city = nil
	}
	if m.asn != nil {
		errs = append(errs, m.asn.Close())
		m.asn = nil
	}
	return errors.Join(errs...)
}
