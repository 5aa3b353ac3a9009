package tunnel_test

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/tunnel"
)

func TestKeys(t *testing.T) {
	priv, err := tunnel.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if priv[0]&7 != 0 || priv[31]&128 != 0 || priv[31]&64 == 0 {
		t.Errorf("private key not clamped: %x", priv)
	}
	// RFC 7748 section 6.1 test vector (Alice).
	alice, _ := tunnel.ParseKey("dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=")
	if got := alice.PublicKey().String(); got != "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" {
		t.Errorf("public key %s", got)
	}
	back, err := tunnel.ParseKey(priv.String())
	if err != nil || back != priv {
		t.Errorf("round trip: %v %v", back, err)
	}
	var k tunnel.Key
	if err := k.UnmarshalText([]byte(priv.String())); err != nil || k != priv {
		t.Errorf("UnmarshalText: %v", err)
	}
	psk, _ := tunnel.GeneratePresharedKey()
	if psk.IsZero() || psk == priv {
		t.Error("preshared key not random")
	}
	for _, bad := range []string{"", "abc", strings.Repeat("A", 43) + "!", strings.Repeat("A", 44) + "=", "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%="} {
		if _, err := tunnel.ParseKey(bad); !errors.Is(err, tunnel.ErrInvalidKey) {
			t.Errorf("ParseKey(%q) = %v", bad, err)
		}
	}
}

const sampleConfig = `# a stock wg-quick file
[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
ListenPort = 51820
Address = 10.192.122.1/24, fd00::1/64
DNS = 10.192.122.53, example.internal
MTU = 1380
PostUp = iptables -A FORWARD -i %i -j ACCEPT
SaveConfig = false

[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
PresharedKey = FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=
AllowedIPs = 10.192.122.3/32, 10.192.124.1/24
Endpoint = 192.95.5.67:1234
persistentkeepalive = 25

[peer]
PublicKey = TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=
AllowedIPs = 10.192.122.4/32, 192.168.0.0/16
Endpoint = [2607:5300:60:6b0::c05f:543]:2468

[Peer]
PublicKey = gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=
AllowedIPs = 10.10.10.230/32
Endpoint = test.wireguard.com:18981
PersistentKeepalive = off
`

func TestParseConfig(t *testing.T) {
	c, err := tunnel.ParseConfig([]byte(sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenPort != 51820 || c.MTU != 1380 || len(c.Addresses) != 2 || c.Addresses[1] != netip.MustParsePrefix("fd00::1/64") {
		t.Errorf("interface: %+v", c)
	}
	if len(c.DNS) != 1 || c.DNS[0] != netip.MustParseAddr("10.192.122.53") || len(c.DNSSearch) != 1 || c.DNSSearch[0] != "example.internal" {
		t.Errorf("DNS: %v %v", c.DNS, c.DNSSearch)
	}
	if len(c.Peers) != 3 {
		t.Fatalf("%d peers", len(c.Peers))
	}
	p := c.Peers[0]
	if p.PersistentKeepalive != 25*time.Second || p.Endpoint != "192.95.5.67:1234" || p.PresharedKey.IsZero() ||
		p.AllowedIPs[1] != netip.MustParsePrefix("10.192.124.0/24") {
		t.Errorf("peer 0: %+v", p)
	}
	if c.Peers[1].Endpoint != "[2607:5300:60:6b0::c05f:543]:2468" || c.Peers[2].PersistentKeepalive != 0 {
		t.Errorf("peers: %+v", c.Peers[1:])
	}

	// Export and import again: the same configuration.
	text, err := c.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := tunnel.ParseConfig(text)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, text)
	}
	text2, _ := c2.MarshalText()
	if !bytes.Equal(text, text2) {
		t.Errorf("round trip differs:\n%s\n---\n%s", text, text2)
	}
	if !strings.Contains(string(text), "AllowedIPs = 10.192.122.3/32, 10.192.124.0/24\n") {
		t.Errorf("export:\n%s", text)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
	iface := "[Interface]\nPrivateKey = " + key + "\nAddress = 10.0.0.1/24\n"
	cases := []struct {
		name, text string
		line       int // 0: not a line error
	}{
		{"empty", "", 0},
		{"no interface", "[Peer]\nPublicKey = " + key + "\n", 0},
		{"no private key", "[Interface]\nAddress = 10.0.0.1/24\n", 0},
		{"no address", "[Interface]\nPrivateKey = " + key + "\n", 0},
		{"bad key", "[Interface]\nPrivateKey = nope\n", 2},
		{"unknown key", iface + "Colour = blue\n", 4},
		{"unknown section", iface + "[Server]\n", 4},
		{"unterminated section", iface + "[Peer\n", 4},
		{"no equals", iface + "ListenPort\n", 4},
		{"port range", iface + "ListenPort = 70000\n", 4},
		{"negative port", iface + "ListenPort = -1\n", 4},
		{"bad address", "[Interface]\nPrivateKey = " + key + "\nAddress = 10.0.0.300/24\n", 3},
		{"key before section", "ListenPort = 1\n" + iface, 1},
		{"two interfaces", iface + "[Interface]\n", 4},
		{"peer without key", iface + "[Peer]\nAllowedIPs = 10.0.0.2/32\n", 0},
		{"duplicate peer", iface + "[Peer]\nPublicKey = " + key + "\n[Peer]\nPublicKey = " + key + "\n", 0},
		{"bad allowed ip", iface + "[Peer]\nPublicKey = " + key + "\nAllowedIPs = 10.0.0.0/33\n", 6},
		{"endpoint no port", iface + "[Peer]\nPublicKey = " + key + "\nEndpoint = 1.2.3.4\n", 6},
		{"endpoint bare v6", iface + "[Peer]\nPublicKey = " + key + "\nEndpoint = ::1:51820\n", 6},
		{"endpoint port 0", iface + "[Peer]\nPublicKey = " + key + "\nEndpoint = 1.2.3.4:0\n", 6},
		{"keepalive", iface + "[Peer]\nPublicKey = " + key + "\nPersistentKeepalive = 99999\n", 6},
		{"small MTU v6", "[Interface]\nPrivateKey = " + key + "\nAddress = fd00::1/64\nMTU = 1000\n", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tunnel.ParseConfig([]byte(tc.text))
			if !errors.Is(err, tunnel.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			var ce *tunnel.ConfigError
			if tc.line != 0 && (!errors.As(err, &ce) || ce.Line != tc.line) {
				t.Errorf("err = %v, want a ConfigError at line %d", err, tc.line)
			}
		})
	}
	big := bytes.Repeat([]byte("#"), tunnel.MaxConfigSize+1)
	if _, err := tunnel.ParseConfig(big); !errors.Is(err, tunnel.ErrInvalidConfig) {
		t.Errorf("oversized: %v", err)
	}
	if _, err := tunnel.ReadConfig(bytes.NewReader(big)); !errors.Is(err, tunnel.ErrInvalidConfig) {
		t.Errorf("oversized via ReadConfig: %v", err)
	}
}

// FuzzParseConfig checks that no input crashes the parser, and that every
// accepted configuration exports to text that parses to the same export.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(sampleConfig))
	f.Add([]byte("[Interface]\nPrivateKey=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress=10.0.0.1\n[Peer]\nPublicKey=xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nEndpoint=[::1]:1\n"))
	f.Add([]byte("[Peer]\n=\n[\n]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := tunnel.ParseConfig(b)
		if err != nil {
			if !errors.Is(err, tunnel.ErrInvalidConfig) && !errors.Is(err, tunnel.ErrInvalidKey) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		text, err := c.MarshalText()
		if err != nil {
			t.Fatalf("accepted config does not export: %v", err)
		}
		c2, err := tunnel.ParseConfig(text)
		if err != nil {
			t.Fatalf("export does not parse: %v\n%s", err, text)
		}
		text2, _ := c2.MarshalText()
		if !bytes.Equal(text, text2) {
			t.Fatalf("export not stable:\n%s\n---\n%s", text, text2)
		}
	})
}
