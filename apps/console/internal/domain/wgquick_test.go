package domain

import (
	"encoding/json"
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

// FuzzValidateStatus feeds the status check arbitrary reports: it never
// panics, and a report it accepts lists at most MaxLocalResources local
// resources, each with a DNS name, a known kind and a port.
func FuzzValidateStatus(f *testing.F) {
	for _, s := range []string{
		`{"healthy":true}`,
		`{"resources":[{"name":"plc.factory","kind":"tcp","port":502}]}`,
		`{"resources":[{"name":"serial-1.lab","kind":"serial"}]}`,
		`{"resources":[{"name":"evil corp<script>","kind":"tcp"}]}`,
		`{"resources":[{"name":"","kind":"usb"}]}`,
		`{"resources":[{"name":"a.corp","kind":"smb","port":-1}]}`,
		`{"resources":[{"name":"-a.corp","kind":"tcp","port":65536}]}`,
		`{"resources":null,"routes":["100.64.0.0/10"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st controlplane.Status
		if json.Unmarshal(data, &st) != nil {
			return
		}
		if validateStatus(&st) != nil {
			return
		}
		if len(st.Resources) > controlplane.MaxLocalResources {
			t.Fatalf("accepted %d local resources", len(st.Resources))
		}
		for _, r := range st.Resources {
			// What the local resource check refuses (a name that is not a
			// DNS name, an unknown kind, a port out of range: see the
			// domain's FuzzValidateLocalResources) never gets through.
			if ValidateLocalResources([]controlplane.LocalResource{r}) != nil || r.Port < 0 || r.Port > 65535 {
				t.Fatalf("accepted local resource %+v", r)
			}
			if strings.ContainsAny(r.Name, "<>\"' \n") {
				t.Fatalf("accepted a name that is not a DNS name: %q", r.Name)
			}
		}
	})
}
