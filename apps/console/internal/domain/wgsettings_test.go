package domain

import "testing"

// FuzzWGSettings: whatever is typed, normalize either refuses it and
// changes nothing, or stores a canonical form that normalizes to itself
// and holds no control character.
func FuzzWGSettings(f *testing.F) {
	f.Add("vpn.example.com:51820", "10.0.0.0/8, 100.64.0.0/10", "10.0.0.53, ::1")
	f.Add("[::1]:51820", "::/0", "")
	f.Add("a:0", "1.2.3.4/33", "x")
	f.Add("host:1\n", ",", "1.1.1.1,")
	f.Fuzz(func(t *testing.T, ep, allowed, dns string) {
		ws := WGSettings{Endpoint: ep, AllowedIPs: allowed, DNS: dns}
		if err := ws.normalize(); err != nil {
			if ws != (WGSettings{Endpoint: ep, AllowedIPs: allowed, DNS: dns}) {
				t.Fatalf("a refused normalize changed the settings: %+v", ws)
			}
			return
		}
		again := ws
		if err := again.normalize(); err != nil || again != ws {
			t.Fatalf("normalized settings %+v do not normalize to themselves: %+v %v", ws, again, err)
		}
		for _, v := range []string{ws.Endpoint, ws.AllowedIPs, ws.DNS} {
			if noControl(v) != v {
				t.Fatalf("control character kept: %q", v)
			}
		}
	})
}
