package ztna

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gonaut/gonaut/serialfwd"

	"github.com/gonaut/gonaut/tunnel"
)

// MaxConfigBytes bounds the size of a configuration file.
const MaxConfigBytes = 16 << 20

// Config is a gateway's configuration: its tunnel, identities, resources,
// policies and limits. It is what `gateway run --config FILE` reads; the
// YAML keys are the snake_case names in the struct tags. Relative paths in it
// are relative to Dir.
type Config struct {
	// ListenPort is the WireGuard UDP port; 0 picks a free one.
	ListenPort int `yaml:"listen_port"`
	// PrivateKey (base64) or PrivateKeyFile holds the gateway's WireGuard
	// key. One is required.
	PrivateKey     string `yaml:"private_key"`
	PrivateKeyFile string `yaml:"private_key_file"`
	// Address is the gateway's own address inside the tunnel with the
	// prefix its peers' addresses come from, e.g. 10.77.0.1/16. The
	// gateway serves DNS for resource names on it (port 53).
	Address string `yaml:"address"`
	// ResourcePrefix is where resources' virtual addresses are taken from
	// when a resource names none. Default: 10.78.0.0/16.
	ResourcePrefix string `yaml:"resource_prefix"`
	// Endpoint is the host:port peers reach the gateway's UDP port at; it
	// goes into the wg-quick files `gateway peer add` prints.
	Endpoint string `yaml:"endpoint"`
	// Domain is appended as a DNS search domain in printed peer configs.
	Domain string `yaml:"domain"`

	// Admin is the local address of the /metrics, /healthz and /readyz
	// endpoints (used by apps/gateway). Empty: none.
	Admin string `yaml:"admin"`
	// AuditFile receives one JSON line per decision and closed flow.
	// Empty: no audit file.
	AuditFile string `yaml:"audit_file"`

	// Policies are policy document files; PolicyTemplates names embedded
	// templates (policy.Templates) to load as well.
	Policies        []string `yaml:"policies"`
	PolicyTemplates []string `yaml:"policy_templates"`

	Users      []UserConfig      `yaml:"users"`
	Connectors []ConnectorConfig `yaml:"connectors"`
	Devices    []DeviceConfig    `yaml:"devices"`
	Resources  []ResourceConfig  `yaml:"resources"`

	RateLimits RateLimitConfig `yaml:"rate_limits"`
	Analytics  AnalyticsConfig `yaml:"analytics"`

	// EncodedSlashes is what the HTTP proxy does with a request path that
	// holds an encoded slash or backslash (%2F, %5C): "refuse" (the
	// default) answers 400, since upstreams disagree on whether such a
	// path has one segment or two; "keep" forwards it as sent and has
	// policy see it still encoded. Keep it only for upstreams that treat
	// %2F as data, never as a separator: to one that decodes it before
	// routing, /x%2F..%2Fadmin is /admin, which a rule on the prefix
	// /admin does not see. A resource's encoded_slashes overrides it.
	EncodedSlashes string `yaml:"encoded_slashes"`

	// EagerPeers keeps every device's WireGuard peer loaded from start
	// (see tunnel.Options.EagerPeers): no peer setup on a device's first
	// packet, but about 28 KiB per idle device instead of 1 KiB. Default:
	// false, peers are loaded while in use.
	EagerPeers bool `yaml:"eager_peers"`

	// Recheck is how often live flows are re-decided even without a
	// change, to catch session expiry and risk crossing a threshold.
	// Default: 500ms.
	Recheck time.Duration `yaml:"recheck"`

	// Dir is the directory relative paths are resolved against; ReadConfig
	// sets it to the file's directory. Not read from YAML.
	Dir string `yaml:"-"`
}

// ConnectorConfig is a connector: a peer that dials out to the gateway
// and hosts resources where the gateway cannot reach them.
type ConnectorConfig struct {
	ID        string `yaml:"id"`
	Site      string `yaml:"site"`
	PublicKey string `yaml:"public_key"`
	Address   string `yaml:"address"` // inner address, e.g. 10.77.1.1
}

// UserConfig is one user of the standalone directory.
type UserConfig struct {
	ID         string            `yaml:"id"`
	Email      string            `yaml:"email"`
	Groups     []string          `yaml:"groups"`
	Roles      []string          `yaml:"roles"`
	MFA        bool              `yaml:"mfa"`
	Disabled   bool              `yaml:"disabled"`
	Attributes map[string]string `yaml:"attributes"`
}

// DeviceConfig is one device: a WireGuard public key bound to a user.
type DeviceConfig struct {
	ID        string        `yaml:"id"`
	User      string        `yaml:"user"`
	PublicKey string        `yaml:"public_key"`
	Address   string        `yaml:"address"` // inner address, e.g. 10.77.0.2
	Posture   PostureConfig `yaml:"posture"`
	Disabled  bool          `yaml:"disabled"`
}

// PostureConfig is a device's posture as policy sees it in device.*.
type PostureConfig struct {
	OS            string            `yaml:"os"`
	OSVersion     string            `yaml:"os_version"`
	Managed       bool              `yaml:"managed"`
	DiskEncrypted bool              `yaml:"disk_encrypted"`
	Firewall      bool              `yaml:"firewall"`
	ScreenLock    bool              `yaml:"screen_lock"`
	Attributes    map[string]string `yaml:"attributes"`
}

// ResourceConfig is one resource reachable through the gateway.
type ResourceConfig struct {
	// Name is what peers dial and resolve through the gateway's DNS,
	// e.g. wiki.corp.
	Name string `yaml:"name"`
	// Kind is tcp, udp, http, usb or serial.
	Kind   ResourceKind      `yaml:"kind"`
	Labels map[string]string `yaml:"labels"`
	// Address is the resource's virtual address inside the tunnel.
	// Default: the next free one in Config.ResourcePrefix.
	Address string `yaml:"address"`
	// Port peers connect to. Default: 80 for http, 3240 for usb, 2217
	// for serial; required for tcp and udp.
	Port int `yaml:"port"`
	// Upstreams are host:port targets of tcp, udp and http resources;
	// more than one are load balanced (per flow).
	Upstreams []string `yaml:"upstreams"`
	// USB lists simulated devices a usb resource exports (real devices
	// are added with Gateway.AddUSBDevice).
	USB []USBDeviceConfig `yaml:"usb"`
	// Connector names the connector that hosts the resource; policy
	// then sees labels connector and site. A tcp, udp, http or serial
	// resource is reached through the tunnel at the connector's address
	// and ConnectorPort (default: Port), and needs no upstreams. A usb
	// resource re-exports the devices the connector's USB/IP server
	// (ConnectorPort, default 3240) reports present; it configures no
	// usb devices of its own. A serial resource's serial.path is then
	// the device on the connector and optional (the connector reports
	// it).
	Connector     string `yaml:"connector"`
	ConnectorPort int    `yaml:"connector_port"`
	// Serial is the port a serial resource shares.
	Serial *SerialConfig `yaml:"serial"`
	// Balance is round_robin (default) or least_conn.
	Balance     string            `yaml:"balance"`
	HealthCheck HealthCheckConfig `yaml:"health_check"`
	// DialTimeout bounds an upstream dial. Default: 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// IdleTimeout closes a flow idle this long (no byte either way).
	// Default: none for tcp, 60s for udp (a UDP flow has no end of its
	// own).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// EncodedSlashes is Config.EncodedSlashes for this http resource.
	// Default: the gateway's.
	EncodedSlashes string `yaml:"encoded_slashes"`
}

// USBDeviceConfig is a simulated USB device exported by a usb resource.
type USBDeviceConfig struct {
	BusID string `yaml:"bus_id"`
	// Simulate is keyboard, serial or storage (usbip/sim).
	Simulate string `yaml:"simulate"`
	// SerialNumber is the device's iSerialNumber.
	SerialNumber string `yaml:"serial_number"`
}

// SerialConfig is the serial port of a serial resource.
type SerialConfig struct {
	// Path of the device, e.g. /dev/ttyUSB0.
	Path string `yaml:"path"`
	// Baud rate; 0 keeps the port's setting.
	Baud int `yaml:"baud"`
	// Protocol is rfc2217 (default) or raw.
	Protocol string `yaml:"protocol"`
	// ModemLines is auto (default), real, virtual or refuse: how DTR, RTS
	// and flow-control requests are answered (see serialfwd.ModemLines).
	ModemLines string `yaml:"modem_lines"`
}

// HealthCheckConfig is an active health check of a resource's upstreams.
type HealthCheckConfig struct {
	// Interval between checks; 0 disables active checks (a failed dial
	// still ejects an upstream for ten seconds, unless it is the last one
	// up: passive ejection).
	Interval time.Duration `yaml:"interval"`
	// Timeout of one check. Default: 1s.
	Timeout time.Duration `yaml:"timeout"`
	// Path, for http resources, is fetched and must answer 2xx or 3xx;
	// empty: a TCP connect is the check.
	Path string `yaml:"path"`
}

// RateLimitConfig bounds what one user or one device may open.
type RateLimitConfig struct {
	PerUser   LimitConfig `yaml:"per_user"`
	PerDevice LimitConfig `yaml:"per_device"`
}

// LimitConfig is one set of limits; zero fields are unlimited.
type LimitConfig struct {
	// FlowsPerSecond and Burst bound new flows (and HTTP requests).
	FlowsPerSecond float64 `yaml:"flows_per_second"`
	Burst          int     `yaml:"burst"`
	// Concurrent bounds live flows.
	Concurrent int `yaml:"concurrent"`
	// BytesPerSecond bounds the bandwidth of all the key's flows (TCP and
	// HTTP) together, both directions counted, with a burst of one
	// second's worth (at least 64 KiB).
	BytesPerSecond int64 `yaml:"bytes_per_second"`
}

// AnalyticsConfig turns on behavioural analytics in the gateway.
type AnalyticsConfig struct {
	Enabled bool `yaml:"enabled"`
	// GeoIPCity and GeoIPASN are MaxMind database files. They give
	// policy source.country and source.asn even with analytics off.
	GeoIPCity string `yaml:"geoip_city"`
	GeoIPASN  string `yaml:"geoip_asn"`
}

// ConfigError is a problem in a configuration file, with the line when
// known. It wraps ErrInvalidConfig.
type ConfigError struct {
	File string
	Line int // 0 when not known
	Msg  string
}

func (e *ConfigError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("ztna: %s:%d: %s", e.File, e.Line, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("ztna: line %d: %s", e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("ztna: %s: %s", e.File, e.Msg)
	}
	return "ztna: " + e.Msg
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// ParseConfig reads a YAML configuration. Unknown keys, wrong types and
// invalid values are errors with the line number where YAML gives one.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigBytes {
		return nil, &ConfigError{Msg: fmt.Sprintf("config larger than %d bytes", MaxConfigBytes)}
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := yamlLine.FindStringSubmatch(te.Errors[0]); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			msg := m[2]
			if len(te.Errors) > 1 {
				msg += fmt.Sprintf(" (and %d more)", len(te.Errors)-1)
			}
			return &ConfigError{Line: n, Msg: msg}
		}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return &ConfigError{Line: n, Msg: m[2]}
	}
	return &ConfigError{Msg: msg}
}

// ReadConfig reads and validates the configuration file at path; relative
// paths in it resolve against its directory.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ztna: read config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	cfg.Dir = filepath.Dir(path)
	return cfg, nil
}

// Path resolves p against c.Dir.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Key returns the gateway's private key from PrivateKey or PrivateKeyFile.
func (c *Config) Key() (tunnel.Key, error) {
	s := c.PrivateKey
	if s == "" && c.PrivateKeyFile != "" {
		b, err := os.ReadFile(c.Path(c.PrivateKeyFile))
		if err != nil {
			return tunnel.Key{}, fmt.Errorf("ztna: private key: %w", err)
		}
		s = strings.TrimSpace(string(b))
	}
	if s == "" {
		return tunnel.Key{}, &ConfigError{Msg: "private_key or private_key_file is required"}
	}
	k, err := tunnel.ParseKey(s)
	if err != nil {
		return tunnel.Key{}, &ConfigError{Msg: "private key: " + err.Error()}
	}
	return k, nil
}

// GatewayPrefix returns Address parsed.
func (c *Config) GatewayPrefix() (netip.Prefix, error) {
	p, err := netip.ParsePrefix(c.Address)
	if err != nil {
		return p, &ConfigError{Msg: fmt.Sprintf("address %q: want an address with prefix length, e.g. 10.77.0.1/16", c.Address)}
	}
	return p, nil
}

// ResourceRange returns ResourcePrefix parsed, or the default.
func (c *Config) ResourceRange() netip.Prefix {
	if p, err := netip.ParsePrefix(c.ResourcePrefix); err == nil {
		return p.Masked()
	}
	return netip.MustParsePrefix("10.78.0.0/16")
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// Validate reports the first problem that stops the configuration from
// being used. The error wraps ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error { return &ConfigError{Msg: fmt.Sprintf(format, a...)} }
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return bad("listen_port %d out of range", c.ListenPort)
	}
	if c.PrivateKey != "" {
		if _, err := tunnel.ParseKey(c.PrivateKey); err != nil {
			return bad("private_key: %v", err)
		}
	}
	if _, err := c.GatewayPrefix(); err != nil {
		return err
	}
	if c.ResourcePrefix != "" {
		if _, err := netip.ParsePrefix(c.ResourcePrefix); err != nil {
			return bad("resource_prefix %q: %v", c.ResourcePrefix, err)
		}
	}
	if c.Recheck < 0 {
		return bad("recheck must not be negative")
	}
	if !validSlashMode(c.EncodedSlashes) {
		return bad("encoded_slashes %q: want refuse or keep", c.EncodedSlashes)
	}
	for _, n := range c.PolicyTemplates {
		if !templateExists(n) {
			return bad("policy_templates: no template named %q", n)
		}
	}
	users := map[string]bool{}
	for i, u := range c.Users {
		if u.ID == "" {
			return bad("users[%d]: id is required", i)
		}
		if users[u.ID] {
			return bad("users[%d]: duplicate id %q", i, u.ID)
		}
		users[u.ID] = true
	}
	devs, keys, addrs := map[string]bool{}, map[tunnel.Key]string{}, map[netip.Addr]string{}
	for i, d := range c.Devices {
		if d.ID == "" {
			return bad("devices[%d]: id is required", i)
		}
		if devs[d.ID] {
			return bad("devices[%d]: duplicate id %q", i, d.ID)
		}
		devs[d.ID] = true
		if !users[d.User] {
			return bad("device %q: user %q is not among users", d.ID, d.User)
		}
		k, err := tunnel.ParseKey(d.PublicKey)
		if err != nil || k.IsZero() {
			return bad("device %q: public_key: want 32 bytes of base64", d.ID)
		}
		if o, dup := keys[k]; dup {
			return bad("device %q: public key already used by device %q", d.ID, o)
		}
		keys[k] = d.ID
		a, err := netip.ParseAddr(d.Address)
		if err != nil {
			return bad("device %q: address %q: %v", d.ID, d.Address, err)
		}
		if o, dup := addrs[a]; dup {
			return bad("device %q: address %s already used by device %q", d.ID, a, o)
		}
		addrs[a] = d.ID
	}
	for i, cn := range c.Connectors {
		if cn.ID == "" {
			return bad("connectors[%d]: id is required", i)
		}
		k, err := tunnel.ParseKey(cn.PublicKey)
		if err != nil || k.IsZero() {
			return bad("connector %q: public_key: want 32 bytes of base64", cn.ID)
		}
		if o, dup := keys[k]; dup {
			return bad("connector %q: public key already used by %q", cn.ID, o)
		}
		keys[k] = cn.ID
		a, err := netip.ParseAddr(cn.Address)
		if err != nil {
			return bad("connector %q: address %q: %v", cn.ID, cn.Address, err)
		}
		if o, dup := addrs[a]; dup {
			return bad("connector %q: address %s already used by %q", cn.ID, a, o)
		}
		addrs[a] = cn.ID
	}
	names := map[string]bool{}
	for i, r := range c.Resources {
		if !nameRE.MatchString(r.Name) || len(r.Name) > 253 {
			return bad("resources[%d]: name %q is not a DNS name", i, r.Name)
		}
		lname := strings.ToLower(r.Name)
		if names[lname] {
			return bad("resources[%d]: duplicate name %q", i, r.Name)
		}
		names[lname] = true
		if r.Connector != "" {
			found := false
			for _, c := range c.Connectors {
				found = found || c.ID == r.Connector
			}
			if !found {
				return bad("resource %q: no connector %q", r.Name, r.Connector)
			}
			if r.ConnectorPort < 0 || r.ConnectorPort > 65535 {
				return bad("resource %q: connector_port %d out of range", r.Name, r.ConnectorPort)
			}
			if len(r.Upstreams) > 0 {
				return bad("resource %q: upstreams and connector exclude each other", r.Name)
			}
		}
		switch r.Kind {
		case KindTCP, KindHTTP, KindUDP:
			if r.Connector == "" && len(r.Upstreams) == 0 {
				return bad("resource %q: at least one upstream is required", r.Name)
			}
			if r.Kind == KindUDP && r.HealthCheck.Interval > 0 {
				return bad("resource %q: udp upstreams have no active health check", r.Name)
			}
		case KindUSB:
			if r.Connector != "" && len(r.USB) > 0 {
				return bad("resource %q: the devices of a usb resource on a connector come from the connector; remove usb", r.Name)
			}
			for _, d := range r.USB {
				switch d.Simulate {
				case "keyboard", "serial", "storage":
				default:
					return bad("resource %q: usb device %q: simulate %q: want keyboard, serial or storage", r.Name, d.BusID, d.Simulate)
				}
			}
		case KindSerial:
			if r.Connector != "" && r.Serial == nil {
				break
			}
			if r.Serial == nil || (r.Serial.Path == "" && r.Connector == "") {
				return bad("resource %q: serial.path is required", r.Name)
			}
			switch r.Serial.Protocol {
			case "", "rfc2217", "raw":
			default:
				return bad("resource %q: serial.protocol %q: want rfc2217 or raw", r.Name, r.Serial.Protocol)
			}
			if _, err := serialfwd.ParseModemLines(r.Serial.ModemLines); err != nil {
				return bad("resource %q: serial.modem_lines %q: want auto, real, virtual or refuse", r.Name, r.Serial.ModemLines)
			}
			if r.Serial.Baud < 0 {
				return bad("resource %q: serial.baud must not be negative", r.Name)
			}
		default:
			return bad("resource %q: kind %q: want tcp, udp, http, usb or serial", r.Name, r.Kind)
		}
		if r.Port < 0 || r.Port > 65535 || (r.Port == 0 && (r.Kind == KindTCP || r.Kind == KindUDP)) {
			return bad("resource %q: port %d: want 1-65535", r.Name, r.Port)
		}
		if r.Address != "" {
			if _, err := netip.ParseAddr(r.Address); err != nil {
				return bad("resource %q: address %q: %v", r.Name, r.Address, err)
			}
		}
		for _, u := range r.Upstreams {
			if _, _, err := splitHostPort(u); err != nil {
				return bad("resource %q: upstream %q: %v", r.Name, u, err)
			}
		}
		switch r.Balance {
		case "", "round_robin", "least_conn":
		default:
			return bad("resource %q: balance %q: want round_robin or least_conn", r.Name, r.Balance)
		}
		if !validSlashMode(r.EncodedSlashes) {
			return bad("resource %q: encoded_slashes %q: want refuse or keep", r.Name, r.EncodedSlashes)
		}
		if r.EncodedSlashes != "" && r.Kind != KindHTTP {
			return bad("resource %q: encoded_slashes applies to http resources only", r.Name)
		}
		if r.HealthCheck.Interval < 0 || r.HealthCheck.Timeout < 0 || r.DialTimeout < 0 || r.IdleTimeout < 0 {
			return bad("resource %q: durations must not be negative", r.Name)
		}
	}
	for _, l := range []LimitConfig{c.RateLimits.PerUser, c.RateLimits.PerDevice} {
		if l.FlowsPerSecond < 0 || l.Burst < 0 || l.Concurrent < 0 || l.BytesPerSecond < 0 {
			return bad("rate_limits must not be negative")
		}
	}
	return nil
}

// validSlashMode reports whether s is a value of encoded_slashes; empty
// means the default.
func validSlashMode(s string) bool { return s == "" || s == "refuse" || s == "keep" }
