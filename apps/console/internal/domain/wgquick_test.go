package domain

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/wgquicktest"
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
		wgquicktest.CheckKeys(t, c.String())
	})
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
