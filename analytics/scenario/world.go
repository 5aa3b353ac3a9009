package scenario

import "net/netip"

// A place is a country with one city where its people live and work.
type place struct {
	country  string
	lat, lon float64
	tz       int // hours east of UTC, no daylight saving
	// centroid of the country, where low-accuracy lookups land
	clat, clon float64
}

var places = []place{
	{"DE", 52.52, 13.40, 1, 51.16, 10.45},
	{"FR", 48.86, 2.35, 1, 46.23, 2.21},
	{"GB", 51.51, -0.13, 0, 54.0, -2.0},
	{"ES", 40.42, -3.70, 1, 40.46, -3.75},
	{"US", 40.71, -74.01, -5, 39.83, -98.58},
	{"CA", 43.65, -79.38, -5, 56.13, -106.35},
	{"BR", -23.55, -46.63, -3, -14.24, -51.93},
	{"IN", 19.08, 72.88, 5, 20.59, 78.96},
	{"JP", 35.68, 139.69, 9, 36.20, 138.25},
	{"AU", -33.87, 151.21, 10, -25.27, 133.78},
}

// Countries attackers come from; none is any user's home.
var foreign = []place{
	{"RU", 55.76, 37.62, 3, 61.52, 105.32},
	{"CN", 39.90, 116.41, 8, 35.86, 104.20},
	{"NG", 6.52, 3.38, 1, 9.08, 8.68},
	{"VN", 21.03, 105.85, 7, 14.06, 108.28},
	{"KP", 39.04, 125.76, 9, 40.34, 127.51},
	{"IR", 35.69, 51.39, 3, 32.43, 53.69},
	{"ZA", -26.20, 28.05, 2, -30.56, 22.94},
	{"AR", -34.60, -58.38, -3, -38.42, -63.62},
}

// The corporate VPN egress: Amsterdam.
var (
	vpnPrefix  = netip.MustParsePrefix("198.51.100.0/24")
	vpnASN     = uint32(64512)
	vpnCountry = "NL"
	vpnLat     = 52.37
	vpnLon     = 4.90
)

// Autonomous systems: per home country, three consumer ISPs and one office
// network; attackers get their own.
func ispASN(country, isp int) uint32 { return uint32(3000 + country*10 + isp) }
func officeASN(country int) uint32   { return uint32(65000 + country) }
func foreignASN(i int) uint32        { return uint32(200000 + i) }

// Addresses: ISP customers in 20+c.isp.x.y, offices behind one NAT
// address per country, attackers in 185.x.y.z.
func ispAddr(country, isp, net, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(20 + country), byte(isp), byte(net), byte(host)})
}

func officeAddr(country int) netip.Addr {
	return netip.AddrFrom4([4]byte{100, byte(country), 0, 1})
}

func vpnAddr(host int) netip.Addr {
	a := vpnPrefix.Addr().As4()
	a[3] = byte(host)
	return netip.AddrFrom4(a)
}
