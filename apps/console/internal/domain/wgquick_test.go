package domain

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// FuzzWGQuick feeds arbitrary values through the parsers and the
// renderer: whatever parses, the output holds only the expected keys,
// one per line.
func FuzzWGQuick(f *testing.F) {
	f.Add("laptop", "100.64.0.1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "gw.example.com:51820", "100.64.0.0/10")
	f.Add("x\nPostUp = id", "1.1.1.1\nPostUp = id", "k", "h:1\n[Peer]", "0.0.0.0/0\nAllowedIPs = ::/0")
	f.Fuzz(func(t *testing.T, name, dns, key, endpoint, routes string) {
		st := controlplane.Status{PublicKey: key, Endpoint: endpoint, DNS: dns, Routes: []string{routes}}
		_ = validateStatus(&st)
		c := wgQuickConfig{Comment: name, Address: netip.MustParsePrefix("100.64.0.2/32")}
		c.DNS, _ = parseAddrList(dns)
		if k, err := parseWGKey(key); err == nil {
			c.PublicKey = &k
		}
		if ep, err := parseWGEndpoint(endpoint); err == nil {
			c.Endpoint = &ep
		}
		c.AllowedIPs, _ = parsePrefixList(routes)
		checkWGQuickKeys(t, c.String())
	})
}

var wgQuickKeys = map[string]bool{"PrivateKey": true, "Address": true, "DNS": true, "PublicKey": true, "AllowedIPs": true, "Endpoint": true, "PersistentKeepalive": true}

// checkWGQuickKeys fails unless cfg has one [Interface] and one [Peer]
// section, each key of the expected set at most once, and comments.
func checkWGQuickKeys(t testing.TB, cfg string) {
	t.Helper()
	seen := map[string]int{}
	for line := range strings.SplitSeq(cfg, "\n") {
		switch {
		case line == "", strings.HasPrefix(line, "# "):
		case line == "[Interface]" || line == "[Peer]":
			seen[line]++
		default:
			k, _, ok := strings.Cut(line, " = ")
			if !ok || !wgQuickKeys[k] {
				t.Fatalf("unexpected line %q in:\n%s", line, cfg)
			}
			seen[k]++
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s appears %d times in:\n%s", k, n, cfg)
		}
	}
}
