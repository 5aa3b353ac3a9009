package tunnel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// MaxConfigSize bounds the wg-quick text ParseConfig and ReadConfig accept
// (16 MiB: about 70,000 peers).
const MaxConfigSize = 16 << 20

// A ConfigError is a problem at a line of a wg-quick file. It wraps
// ErrInvalidConfig.
type ConfigError struct {
	Line int    // 1-based line number
	Msg  string // what is wrong
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("tunnel: wg-quick config line %d: %s", e.Line, e.Msg)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// wg-quick keys that only make sense to the wg-quick shell script (routing
// tables, hooks); they are accepted and ignored so that a stock file imports.
var ignoredInterfaceKeys = map[string]bool{
	"table": true, "preup": true, "postup": true, "predown": true,
	"postdown": true, "saveconfig": true, "fwmark": true,
}

// ReadConfig reads a wg-quick configuration (the format of wg-quick(8) and
// of the QR codes that mobile WireGuard clients scan) from r.
func ReadConfig(r io.Reader) (Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("tunnel: read config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses a wg-quick configuration. Keys are case-insensitive,
// '#' starts a comment, and list values are comma-separated. Unknown keys
// and sections are errors; the wg-quick script keys Table, PreUp, PostUp,
// PreDown, PostDown, SaveConfig and FwMark are ignored. The result is
// validated with Config.Validate.
func ParseConfig(b []byte) (Config, error) {
	if len(b) > MaxConfigSize {
		return Config{}, fmt.Errorf("%w: config larger than %d bytes", ErrInvalidConfig, MaxConfigSize)
	}
	var (
		c       Config
		section string
		peer    *PeerConfig
		seenIf  bool
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxConfigSize)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "[") {
			if !strings.HasSuffix(text, "]") {
				return Config{}, &ConfigError{line, "unterminated section header"}
			}
			section = strings.ToLower(strings.TrimSpace(text[1 : len(text)-1]))
			switch section {
			case "interface":
				if seenIf {
					return Config{}, &ConfigError{line, "second [Interface] section"}
				}
				seenIf = true
				peer = nil
			case "peer":
				c.Peers = append(c.Peers, PeerConfig{})
				peer = &c.Peers[len(c.Peers)-1]
			default:
				return Config{}, &ConfigError{line, fmt.Sprintf("unknown section [%s]", text[1:len(text)-1])}
			}
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return Config{}, &ConfigError{line, "expected key = value"}
		}
		key := strings.ToLower(strings.TrimSpace(k))
		val := strings.TrimSpace(v)
		var err error
		switch section {
		case "interface":
			err = parseInterfaceKey(&c, key, val)
		case "peer":
			err = parsePeerKey(peer, key, val)
		default:
			err = errors.New("key outside a section")
		}
		if err != nil {
			return Config{}, &ConfigError{line, err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if !seenIf {
		return Config{}, fmt.Errorf("%w: no [Interface] section", ErrInvalidConfig)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func parseInterfaceKey(c *Config, key, val string) error {
	var err error
	switch key {
	case "privatekey":
		c.PrivateKey, err = ParseKey(val)
	case "listenport":
		c.ListenPort, err = parseUint(val, 65535)
	case "address":
		for _, f := range splitList(val) {
			p, perr := parseAddrOrPrefix(f)
			if perr != nil {
				return fmt.Errorf("address %q: %v", f, perr)
			}
			c.Addresses = append(c.Addresses, p)
		}
	case "dns":
		for _, f := range splitList(val) {
			if a, aerr := netip.ParseAddr(f); aerr == nil {
				c.DNS = append(c.DNS, a)
			} else {
				c.DNSSearch = append(c.DNSSearch, f)
			}
		}
	case "mtu":
		c.MTU, err = parseUint(val, 65535)
	default:
		if !ignoredInterfaceKeys[key] {
			return fmt.Errorf("unknown [Interface] key %q", key)
		}
	}
	return err
}

func parsePeerKey(p *PeerConfig, key, val string) error {
	var err error
	switch key {
	case "publickey":
		p.PublicKey, err = ParseKey(val)
	case "presharedkey":
		p.PresharedKey, err = ParseKey(val)
	case "allowedips":
		for _, f := range splitList(val) {
			pfx, perr := parseAddrOrPrefix(f)
			if perr != nil {
				return fmt.Errorf("allowed IP %q: %v", f, perr)
			}
			p.AllowedIPs = append(p.AllowedIPs, pfx.Masked())
		}
	case "endpoint":
		if _, _, err = splitHostPort(val); err != nil {
			return fmt.Errorf("endpoint %q: %v", val, err)
		}
		p.Endpoint = val
	case "persistentkeepalive":
		if strings.EqualFold(val, "off") {
			p.PersistentKeepalive = 0
			return nil
		}
		var n int
		n, err = parseUint(val, 65535)
		p.PersistentKeepalive = time.Duration(n) * time.Second
	default:
		return fmt.Errorf("unknown [Peer] key %q", key)
	}
	return err
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseAddrOrPrefix accepts "10.0.0.1/24" or a bare address, which gets a
// host-length prefix.
func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR prefix")
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("not an IP address")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseUint(s string, max int) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || int(n) > max {
		return 0, fmt.Errorf("%q is not a number in [0, %d]", s, max)
	}
	return int(n), nil
}

// MarshalText returns c in wg-quick format, readable by wg-quick(8), the
// mobile and desktop WireGuard apps (and as a QR code), and ParseConfig.
func (c Config) MarshalText() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("[Interface]\n")
	fmt.Fprintf(&b, "PrivateKey = %s\n", c.PrivateKey)
	if c.ListenPort != 0 {
		fmt.Fprintf(&b, "ListenPort = %d\n", c.ListenPort)
	}
	fmt.Fprintf(&b, "Address = %s\n", joinPrefixes(c.Addresses))
	if len(c.DNS)+len(c.DNSSearch) > 0 {
		var dns []string
		for _, a := range c.DNS {
			dns = append(dns, a.String())
		}
		dns = append(dns, c.DNSSearch...)
		fmt.Fprintf(&b, "DNS = %s\n", strings.Join(dns, ", "))
	}
	if c.MTU != 0 {
		fmt.Fprintf(&b, "MTU = %d\n", c.MTU)
	}
	for _, p := range c.Peers {
		b.WriteString("\n[Peer]\n")
		fmt.Fprintf(&b, "PublicKey = %s\n", p.PublicKey)
		if !p.PresharedKey.IsZero() {
			fmt.Fprintf(&b, "PresharedKey = %s\n", p.PresharedKey)
		}
		if len(p.AllowedIPs) > 0 {
			fmt.Fprintf(&b, "AllowedIPs = %s\n", joinPrefixes(p.AllowedIPs))
		}
		if p.Endpoint != "" {
			fmt.Fprintf(&b, "Endpoint = %s\n", p.Endpoint)
		}
		if p.PersistentKeepalive != 0 {
			fmt.Fprintf(&b, "PersistentKeepalive = %d\n", int(p.PersistentKeepalive/time.Second))
		}
	}
	return b.Bytes(), nil
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
