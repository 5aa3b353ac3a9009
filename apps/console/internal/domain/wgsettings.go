package domain

import (
	"context"
	"strings"
)

// WireGuard settings: what enrolled devices' wg-quick files say where
// the gateway is, what they route into the tunnel and which resolver
// they use. Each one left empty is taken from the report of the gateway
// seen most recently, so a console managing one gateway needs none of
// them. They are checked with the same parsers as a gateway's status
// report (wgquick.go): what the console stores is what it can render.

// WGSettings are the WireGuard settings; "" means "use what the gateway
// reports".
type WGSettings struct {
	Endpoint   string // host:port
	AllowedIPs string // comma-separated prefixes
	DNS        string // comma-separated addresses
}

// normalize validates every field and rewrites it in canonical form. It
// changes nothing unless every field is valid.
func (w *WGSettings) normalize() error {
	out := WGSettings{}
	if v := strings.TrimSpace(w.Endpoint); v != "" {
		ep, err := parseWGEndpoint(v)
		if err != nil {
			return Invalid("", "endpoint "+quoteShort(v)+": write host:port, e.g. vpn.example.com:51820 ("+strings.TrimPrefix(err.Error(), "console: ")+")")
		}
		out.Endpoint = ep.String()
	}
	if v := strings.TrimSpace(w.AllowedIPs); v != "" {
		ps, err := parsePrefixList(v)
		if err != nil {
			return Invalid("", "allowed IPs "+quoteShort(v)+": write comma-separated prefixes, e.g. 100.64.0.0/10, 10.0.0.0/8 ("+strings.TrimPrefix(err.Error(), "console: ")+")")
		}
		out.AllowedIPs = joinStrings(ps)
	}
	if v := strings.TrimSpace(w.DNS); v != "" {
		as, err := parseAddrList(v)
		if err != nil {
			return Invalid("", "DNS "+quoteShort(v)+": write comma-separated IP addresses, e.g. 100.64.0.1 ("+strings.TrimPrefix(err.Error(), "console: ")+")")
		}
		out.DNS = joinStrings(as)
	}
	*w = out
	return nil
}

func joinStrings[T interface{ String() string }](vs []T) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = v.String()
	}
	return strings.Join(ss, ", ")
}

// quoteShort quotes a value for an error message, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + noControl(s) + `"`
}

// WGSettings reads the stored WireGuard settings.
func (s *Service) WGSettings(ctx context.Context) WGSettings {
	return WGSettings{
		Endpoint:   s.Setting(ctx, SettingWGEndpoint, ""),
		AllowedIPs: s.Setting(ctx, SettingWGAllowed, ""),
		DNS:        s.Setting(ctx, SettingWGDNS, ""),
	}
}

// SetWGSettings validates all three settings, then stores them in
// canonical form and returns what it stored.
func (s *Service) SetWGSettings(ctx context.Context, a Actor, ws WGSettings) (WGSettings, error) {
	if err := ws.normalize(); err != nil {
		return ws, err
	}
	for key, val := range map[string]string{SettingWGEndpoint: ws.Endpoint, SettingWGAllowed: ws.AllowedIPs, SettingWGDNS: ws.DNS} {
		if err := s.st.SetSetting(ctx, key, val); err != nil {
			return ws, fromStore(err)
		}
	}
	s.record(ctx, a, "settings.wireguard", "wireguard", "", wgSettingsDetail(ws))
	return ws, nil
}

// wgSettingsDetail is the audit detail of SetWGSettings: the settings as
// the API writes them.
func wgSettingsDetail(ws WGSettings) any {
	return struct {
		Endpoint   string `json:"endpoint"`
		AllowedIPs string `json:"allowed_ips"`
		DNS        string `json:"dns"`
	}{ws.Endpoint, ws.AllowedIPs, ws.DNS}
}
