package domain

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The console's settings, by key. Each is checked where it enters (see
// the settings operations) and read by the operations that need it.
const (
	// The gateway's WireGuard endpoint and public key, and the
	// tunnel's address pool, DNS and allowed IPs: what device
	// enrolment hands out.
	SettingWGEndpoint  = "wireguard.endpoint"
	SettingWGPublicKey = "wireguard.public_key"
	SettingWGNetwork   = "wireguard.network" // e.g. 100.64.0.0/16
	SettingWGDNS       = "wireguard.dns"
	SettingWGAllowed   = "wireguard.allowed_ips"
	// SettingDeviceQuota is how many devices one user may enrol for
	// themselves (default 5; 0 or less: no limit).
	SettingDeviceQuota = "devices.quota"
	// SettingTrustedProxies lists the proxies whose X-Forwarded-For the
	// console believes.
	SettingTrustedProxies = "trusted_proxies"
	// SettingClockSkew is how far a gateway's event times may differ
	// from the console's clock.
	SettingClockSkew = "gateways.clock_skew"
	// SettingSSORequired, "true", refuses password sign-in to everyone
	// but admins: the organisation signs in with its identity providers.
	SettingSSORequired = "sso.required"
)

// SSORequired reports whether the tenant's people must sign in with
// single sign-on (SettingSSORequired); admins keep their password.
func (s *Service) SSORequired(ctx context.Context) bool {
	return s.Setting(ctx, SettingSSORequired, "false") == "true"
}

// Setting reads a setting, def when it is unset or cannot be read (a
// store error is not the caller's to handle: the default is the safe
// reading of every setting).
func (s *Service) Setting(ctx context.Context, key, def string) string {
	v, err := s.st.Setting(ctx, key)
	if err != nil || v == "" {
		return def
	}
	return v
}

// A ConsoleSetting is a console-wide value an admin changes at run time.
type ConsoleSetting struct {
	Key   string
	Doc   string
	Value string // as stored; "" means the default
}

// settingSpec is a setting ListSettings and SetSetting own, with its one
// check, which also decides what the console reads (the readers fall
// back to the default for a stored value the check would refuse).
type settingSpec struct {
	key, doc string
	check    func(string) error
	// guard, when set, refuses a value that checks but must not be set
	// by a: one that would lock her out.
	guard func(a Actor, v string) error
	// platform settings are the installation's, read from the default
	// tenant only: other tenants neither list nor set them.
	platform bool
}

// settingSpecs are the settings SetSetting changes; the WireGuard ones
// are changed together by SetWGSettings.
var settingSpecs = append([]settingSpec{
	{key: SettingConsoleAllowlist, doc: "where the console's pages and sign-in may be used from: CIDR prefixes or addresses, each for every role or as role:prefix for one; empty: anywhere",
		check: func(v string) error { _, err := ParseAllowList(SettingConsoleAllowlist, v); return err }, guard: allowListGuard(SettingConsoleAllowlist)},
	{key: SettingAPIAllowlist, doc: "where the REST API may be used from, written as console.allowlist; empty: anywhere",
		check: func(v string) error { _, err := ParseAllowList(SettingAPIAllowlist, v); return err }, guard: allowListGuard(SettingAPIAllowlist)},
	{key: SettingTrustedProxies, doc: "CIDR prefixes or addresses of reverse proxies whose X-Forwarded-For is believed; empty: none",
		check: func(v string) error { _, err := ParseTrustedProxies(v); return err }, platform: true},
	{key: SettingDeviceQuota, doc: "devices one user may enrol for themselves; 0 for no limit; empty: 5",
		check: func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 10000 {
				return fmt.Errorf("%s: %q is not a number from 0 to 10000", SettingDeviceQuota, v)
			}
			return nil
		}},
	{key: SettingClockSkew, doc: "how far a gateway's event time may be from the console's before it is stored flagged; a Go duration; empty: 5m",
		check: func(v string) error {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 || d > 24*time.Hour {
				return fmt.Errorf("%s: %q is not a duration from 1s to 24h, such as 5m", SettingClockSkew, v)
			}
			return nil
		}},
	{key: SettingSSORequired, doc: "true: only admins may sign in with a password, everyone else with an identity provider; empty: false",
		check: func(v string) error {
			if v != "true" && v != "false" {
				return fmt.Errorf("%s: %q is neither true nor false", SettingSSORequired, v)
			}
			return nil
		}},
	{key: SettingAPIRateKey, doc: "REST API requests one API key may make, as requests/period such as 600/1m; 0 or off for no limit; empty: 600/1m",
		check: checkRateLimit(SettingAPIRateKey)},
	{key: SettingAPIRateUser, doc: "REST API requests one user may make with her sessions and keys together, as requests/period; 0 or off for no limit; empty: 600/1m",
		check: checkRateLimit(SettingAPIRateUser)},
	{key: SettingAPIRateAddress, doc: "REST API requests one client address (an IPv6 /64) may make, as requests/period; 0 or off for no limit; empty: 1200/1m",
		check: checkRateLimit(SettingAPIRateAddress)},
}, sessionPolicySpecs()...)

// ListSettings is every setting SetSetting changes, with its stored
// value.
func (s *Service) ListSettings(ctx context.Context) []ConsoleSetting {
	out := make([]ConsoleSetting, 0, len(settingSpecs))
	for _, c := range settingSpecs {
		if c.platform && s.TenantID() != DefaultTenant {
			continue
		}
		out = append(out, ConsoleSetting{Key: c.key, Doc: c.doc, Value: s.Setting(ctx, c.key, "")})
	}
	return out
}

// SetSetting checks and stores one setting; "" restores the default. A
// refused value changes nothing. A key ListSettings does not list is
// ErrNotFound.
func (s *Service) SetSetting(ctx context.Context, a Actor, key, value string) (ConsoleSetting, error) {
	i := slices.IndexFunc(settingSpecs, func(c settingSpec) bool { return c.key == key })
	if i < 0 || (settingSpecs[i].platform && s.TenantID() != DefaultTenant) {
		return ConsoleSetting{}, ErrNotFound
	}
	c := settingSpecs[i]
	if value != "" {
		if err := c.check(value); err != nil {
			return ConsoleSetting{}, &InvalidError{Message: err.Error()}
		}
		if c.guard != nil {
			if err := c.guard(a, value); err != nil {
				return ConsoleSetting{}, err
			}
		}
	}
	if err := s.st.SetSetting(ctx, c.key, value); err != nil {
		return ConsoleSetting{}, fromStore(err)
	}
	s.record(ctx, a, "settings.change", c.key, "", map[string]string{"key": c.key, "value": value})
	return ConsoleSetting{Key: c.key, Doc: c.doc, Value: value}, nil
}

// ParseTrustedProxies parses the trusted_proxies setting: CIDR prefixes
// or single addresses separated by commas or spaces.
func ParseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range listFields(v) {
		p, err := parsePrefix(SettingTrustedProxies, f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// listFields splits a setting's list at commas and white space.
func listFields(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// parsePrefix parses one entry of setting key's list: a CIDR prefix or
// a single address, IPv4 written as IPv4.
func parsePrefix(key, f string) (netip.Prefix, error) {
	if strings.Contains(f, "/") {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("console: %s: %q is not a CIDR prefix", key, f)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("console: %s: write %q as an IPv4 prefix", key, f)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(f)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("console: %s: %q is not an IP address or CIDR prefix", key, f)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// DefaultDeviceQuota bounds self-enrolment so that one user cannot drain
// the tunnel address pool.
const DefaultDeviceQuota = 5

// deviceQuota is the configured self-enrolment quota.
func (s *Service) deviceQuota(ctx context.Context) int {
	n, err := strconv.Atoi(s.Setting(ctx, SettingDeviceQuota, ""))
	if err != nil {
		return DefaultDeviceQuota
	}
	return n
}

// defaultClockSkew is the clock-skew window when none is set.
const defaultClockSkew = 5 * time.Minute

// clockSkew is the configured clock-skew window; a setting that is not
// a positive duration gives the default.
func (s *Service) clockSkew(ctx context.Context) time.Duration {
	d, err := time.ParseDuration(s.Setting(ctx, SettingClockSkew, ""))
	if err != nil || d <= 0 {
		return defaultClockSkew
	}
	return d
}

// AddressPool is the configured tunnel address pool.
func (s *Service) AddressPool(ctx context.Context) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(s.Setting(ctx, SettingWGNetwork, "100.64.0.0/10"))
	if err != nil || !pfx.Addr().Is4() {
		return netip.Prefix{}, Invalid("", "setting "+SettingWGNetwork+" must be an IPv4 prefix")
	}
	return pfx.Masked(), nil
}
