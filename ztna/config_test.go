package ztna_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/ztna"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

const goodConfig = `
listen_port: 51820
private_key: "GHx8lUDaJ2nLV3p9dZqBX6WrBx7WcVvBJQ0tXXXXXXk="
address: 10.77.0.1/16
users:
  - id: alice
    groups: [eng]
devices:
  - id: alice-laptop
    user: alice
    public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
    address: 10.77.0.2
resources:
  - name: wiki.corp
    kind: http
    upstreams: ["127.0.0.1:8080"]
    health_check: {interval: 5s, path: /healthz}
`

func TestParseConfig(t *testing.T) {
	cfg, err := ztna.ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Resources[0].HealthCheck.Interval.Seconds() != 5 || cfg.Devices[0].User != "alice" {
		t.Errorf("parsed %+v", cfg)
	}
	cases := []struct {
		name, yaml, want string
		line             int
	}{
		{"unknown key", strings.Replace(goodConfig, "    kind: http", "    kind: http\n    colour: blue", 1), "colour", 16},
		{"unknown top key", "address: 10.77.0.1/16\nlisten: 1\n", "listen", 2},
		{"wrong type", "address: 10.77.0.1/16\nlisten_port: [1]\n", "", 2},
		{"bad address", "address: 10.77.0.1\n", "prefix length", 0},
		{"unknown user", strings.Replace(goodConfig, "    user: alice", "    user: mallory", 1), "mallory", 0},
		{"bad kind", strings.Replace(goodConfig, "kind: http", "kind: smtp", 1), "smtp", 0},
		{"bad name", strings.Replace(goodConfig, "wiki.corp", "wiki corp", 1), "DNS name", 0},
		{"no upstream", strings.Replace(goodConfig, `upstreams: ["127.0.0.1:8080"]`, "upstreams: []", 1), "upstream", 0},
		{"bad key", strings.Replace(goodConfig, "xTIBA5", "!!!", 1), "public_key", 0},
		{"bad yaml", "address: [\n", "", 0},
		{"unknown template", "address: 10.77.0.1/16\npolicy_templates: [nope]\n", "nope", 0},
		{"bad modem lines", "address: 10.77.0.1/16\nresources: [{name: plc, kind: serial, serial: {path: /dev/ttyS0, modem_lines: sometimes}}]\n", "modem_lines", 0},
		{"bad encoded_slashes", "address: 10.77.0.1/16\nencoded_slashes: decode\n", "encoded_slashes", 0},
		{"bad resource encoded_slashes", strings.Replace(goodConfig, "    kind: http", "    kind: http\n    encoded_slashes: allow", 1), "encoded_slashes", 0},
		{"encoded_slashes on tcp", "address: 10.77.0.1/16\nresources: [{name: a, kind: tcp, port: 1, upstreams: ['h:1'], encoded_slashes: keep}]\n", "http resources only", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ztna.ParseConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ztna.ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			var ce *ztna.ConfigError
			if tc.line > 0 && (!errors.As(err, &ce) || ce.Line != tc.line) {
				t.Errorf("error %q: want line %d", err, tc.line)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("address: 10.77.0.1/16\nresources: [{name: a, kind: tcp, port: 1, upstreams: ['h:1']}]\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ztna.ParseConfig(data)
		if err == nil {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("parsed config fails validation: %v", err)
			}
		} else if !errors.Is(err, ztna.ErrInvalidConfig) {
			t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
		}
	})
}

// The example configuration of a connector's resources is valid, and the
// rules that tie udp resources and connector devices together hold.
func TestConnectorConfig(t *testing.T) {
	cfg, err := ztna.ReadConfig("testdata/connector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Resources) != 4 || cfg.Resources[0].Kind != "udp" || cfg.Resources[2].Connector != "bench-1" {
		t.Errorf("parsed %+v", cfg.Resources)
	}
	const base = `address: 10.77.0.1/16
connectors: [{id: c1, public_key: "Ky0W2Zk5o1bO0hWk5nWmbzD5m9CqZVn6s8yZqK5Yl0c=", address: 10.77.1.1}]
resources:
`
	for _, tc := range []struct{ name, res, want string }{
		{"udp without port", "  - {name: u.lab, kind: udp, upstreams: ['h:1']}", "port 0"},
		{"udp without upstream", "  - {name: u.lab, kind: udp, port: 53}", "upstream"},
		{"udp health check", "  - {name: u.lab, kind: udp, port: 53, upstreams: ['h:1'], health_check: {interval: 1s}}", "health check"},
		{"unknown connector", "  - {name: u.lab, kind: udp, port: 53, connector: c2}", "no connector"},
		{"connector and upstreams", "  - {name: u.lab, kind: tcp, port: 53, connector: c1, upstreams: ['h:1']}", "exclude"},
		{"usb devices on a connector", "  - {name: u.lab, kind: usb, connector: c1, usb: [{bus_id: 1-1, simulate: keyboard}]}", "come from the connector"},
		{"serial without path", "  - {name: s.lab, kind: serial, serial: {baud: 9600}}", "serial.path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ztna.ParseConfig([]byte(base + tc.res + "\n"))
			if err == nil || !errors.Is(err, ztna.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{
		"  - {name: u.lab, kind: udp, port: 53, connector: c1}",
		"  - {name: s.lab, kind: serial, connector: c1}",
		"  - {name: d.lab, kind: usb, connector: c1, connector_port: 3240}",
	} {
		if _, err := ztna.ParseConfig([]byte(base + ok + "\n")); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
