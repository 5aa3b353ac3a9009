package domain

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// wgKey is a WireGuard public key: 32 bytes, written in base64.
type wgKey [32]byte

func parseWGKey(s string) (wgKey, error) {
	var k wgKey
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, errors.New("console: public key must be a base64 wireguard key (32 bytes)")
	}
	copy(k[:], b)
	return k, nil
}

func (k wgKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// wgEndpoint is host:port where host is an IP address or a DNS name of
// letters, digits, hyphens and dots.
type wgEndpoint struct {
	host string
	port uint16
}

func parseWGEndpoint(s string) (wgEndpoint, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		return wgEndpoint{host: ap.Addr().String(), port: ap.Port()}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return wgEndpoint{}, errors.New("console: endpoint must be host:port")
	}
	host, ps := s[:i], s[i+1:]
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return wgEndpoint{}, errors.New("console: endpoint port must be 1-65535")
	}
	if !validHostname(host) {
		return wgEndpoint{}, errors.New("console: endpoint host must be an ip address or a dns name")
	}
	return wgEndpoint{host: strings.ToLower(host), port: uint16(port)}, nil
}

func (e wgEndpoint) String() string {
	if a, err := netip.ParseAddr(e.host); err == nil {
		return netip.AddrPortFrom(a, e.port).String()
	}
	return e.host + ":" + strconv.Itoa(int(e.port))
}

// validHostname reports whether h is a DNS name: labels of 1-63 letters,
// digits and inner hyphens, at most 253 bytes in all.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// parseAddrList parses a comma-separated list of IP addresses.
func parseAddrList(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for f := range strings.SplitSeq(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("console: dns %q is not an ip address", f)
		}
		out = append(out, a)
	}
	return out, nil
}

// parsePrefixList parses prefixes given one an element or comma-separated.
func parsePrefixList(ss ...string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		for f := range strings.SplitSeq(s, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("console: route %q is not an ip prefix", f)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// wgQuickConfig is a device's wg-quick file, held as typed values only:
// nothing in it can carry a line break or a key of its own into the
// rendered text.
type wgQuickConfig struct {
	Comment    string // device name and id; control characters are dropped
	PrivateKey *wgKey // nil renders a placeholder
	Address    netip.Prefix
	DNS        []netip.Addr
	PublicKey  *wgKey // nil renders a placeholder
	AllowedIPs []netip.Prefix
	Endpoint   *wgEndpoint // nil renders a placeholder
}

// noControl drops control characters (line breaks among them) and '#'
// is harmless after the comment mark, so only they matter.
func noControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
}

// dnsNote precedes the DNS line of a rendered config: wg-quick up needs
// resolvconf for it.
const dnsNote = "# DNS needs resolvconf for wg-quick on Linux: apt install openresolv\n" +
	"# (Debian, Ubuntu), or delete the DNS line and resolve the gateway's names yourself.\n"

func (c *wgQuickConfig) String() string {
	var b strings.Builder
	b.WriteString("[Interface]\n")
	if c.Comment != "" {
		fmt.Fprintf(&b, "# %s\n", noControl(c.Comment))
	}
	if c.PrivateKey != nil {
		fmt.Fprintf(&b, "PrivateKey = %s\n", c.PrivateKey)
	} else {
		b.WriteString("PrivateKey = <the device's private key>\n")
	}
	fmt.Fprintf(&b, "Address = %s\n", c.Address)
	if len(c.DNS) > 0 {
		ds := make([]string, len(c.DNS))
		for i, a := range c.DNS {
			ds[i] = a.String()
		}
		// wg-quick hands DNS to resolvconf, which minimal Debian and
		// Ubuntu installs lack: "resolvconf: command not found".
		b.WriteString(dnsNote)
		fmt.Fprintf(&b, "DNS = %s\n", strings.Join(ds, ", "))
	}
	b.WriteString("\n[Peer]\n")
	if c.PublicKey != nil {
		fmt.Fprintf(&b, "PublicKey = %s\n", c.PublicKey)
	} else {
		b.WriteString("PublicKey = <the gateway's public key>\n")
	}
	ps := make([]string, len(c.AllowedIPs))
	for i, p := range c.AllowedIPs {
		ps[i] = p.String()
	}
	fmt.Fprintf(&b, "AllowedIPs = %s\n", strings.Join(ps, ", "))
	if c.Endpoint != nil {
		fmt.Fprintf(&b, "Endpoint = %s\n", c.Endpoint)
	} else {
		b.WriteString("Endpoint = <gateway-host>:51820\n")
	}
	b.WriteString("PersistentKeepalive = 25\n")
	return b.String()
}

// validateStatus checks every field of a gateway's status report that
// the console writes into devices' wg-quick files or shows to people
// (its local resources), and refuses control characters in the
// free-text ones.
func validateStatus(st *controlplane.Status) error {
	if st.PublicKey != "" {
		if _, err := parseWGKey(st.PublicKey); err != nil {
			return err
		}
	}
	if st.Endpoint != "" {
		if _, err := parseWGEndpoint(st.Endpoint); err != nil {
			return err
		}
	}
	if st.DNS != "" {
		if _, err := parseAddrList(st.DNS); err != nil {
			return err
		}
	}
	if _, err := parsePrefixList(st.Routes...); err != nil {
		return err
	}
	if noControl(st.Version) != st.Version || noControl(st.Message) != st.Message {
		return errors.New("console: version and message must not hold control characters")
	}
	return ValidateLocalResources(st.Resources)
}
