package domain

import "context"

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
)

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
