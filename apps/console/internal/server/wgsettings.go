package server

import (
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// WireGuard settings: what enrolled devices' wg-quick files say where
// the gateway is, what they route into the tunnel and which resolver
// they use. Each one left empty is taken from the report of the gateway
// seen most recently, so a console managing one gateway needs none of
// them. They are checked with the same parsers as a gateway's status
// report (wgquick.go): what the console stores is what it can render.

// wgSettings is the API shape of the WireGuard settings; "" means "use
// what the gateway reports".
type wgSettings struct {
	Endpoint   string `json:"endpoint"`    // host:port
	AllowedIPs string `json:"allowed_ips"` // comma-separated prefixes
	DNS        string `json:"dns"`         // comma-separated addresses
}

// normalize validates every field and rewrites it in canonical form. It
// changes nothing unless every field is valid.
func (w *wgSettings) normalize() error {
	out := wgSettings{}
	if v := strings.TrimSpace(w.Endpoint); v != "" {
		ep, err := parseWGEndpoint(v)
		if err != nil {
			return errString("endpoint " + quoteShort(v) + ": write host:port, e.g. vpn.example.com:51820 (" + strings.TrimPrefix(err.Error(), "console: ") + ")")
		}
		out.Endpoint = ep.String()
	}
	if v := strings.TrimSpace(w.AllowedIPs); v != "" {
		ps, err := parsePrefixList(v)
		if err != nil {
			return errString("allowed IPs " + quoteShort(v) + ": write comma-separated prefixes, e.g. 100.64.0.0/10, 10.0.0.0/8 (" + strings.TrimPrefix(err.Error(), "console: ") + ")")
		}
		out.AllowedIPs = joinStrings(ps)
	}
	if v := strings.TrimSpace(w.DNS); v != "" {
		as, err := parseAddrList(v)
		if err != nil {
			return errString("DNS " + quoteShort(v) + ": write comma-separated IP addresses, e.g. 100.64.0.1 (" + strings.TrimPrefix(err.Error(), "console: ") + ")")
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

func (s *Server) wgSettings(r *http.Request) wgSettings {
	return wgSettings{
		Endpoint:   s.setting(r, SettingWGEndpoint, ""),
		AllowedIPs: s.setting(r, SettingWGAllowed, ""),
		DNS:        s.setting(r, SettingWGDNS, ""),
	}
}

// saveWGSettings validates all three settings, then stores them.
func (s *Server) saveWGSettings(r *http.Request, p *principal, ws wgSettings) (wgSettings, error) {
	if err := ws.normalize(); err != nil {
		return ws, err
	}
	for key, val := range map[string]string{SettingWGEndpoint: ws.Endpoint, SettingWGAllowed: ws.AllowedIPs, SettingWGDNS: ws.DNS} {
		if err := s.st.SetSetting(r.Context(), key, val); err != nil {
			return ws, err
		}
	}
	s.audit(r.Context(), p.actor(), "settings.wireguard", "wireguard", "", ws)
	return ws, nil
}

func (s *Server) apiGetWGSettings(w http.ResponseWriter, r *http.Request, _ *principal) {
	writeJSON(w, http.StatusOK, s.wgSettings(r))
}

func (s *Server) apiPutWGSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	var req wgSettings
	if !decode(w, r, &req) {
		return
	}
	ws, err := s.saveWGSettings(r, p, req)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ws)
}

func (s *Server) pageWGSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	ws := s.wgSettings(r)
	gw, gwName := s.gatewayReport(r)
	l := ui.List{Page: s.pageOf(r, p, "WireGuard settings", "gateways"), Heading: "WireGuard settings for enrolled devices",
		Table: ui.Table{Head: []string{"Setting", "Stored (empty: use the gateway's)", "Gateway " + orDash(gwName) + " reports"}}}
	l.Table.Rows = []ui.Row{
		{ID: "endpoint", Cells: []string{"Endpoint", ws.Endpoint, gw.Endpoint}},
		{ID: "allowed_ips", Cells: []string{"Allowed IPs", ws.AllowedIPs, strings.Join(gw.Routes, ", ")}},
		{ID: "dns", Cells: []string{"DNS", ws.DNS, gw.DNS}},
	}
	if allowed(permAdmin, p.role) {
		l.Form = []ui.Field{
			{Name: "endpoint", Label: "Endpoint (host:port; empty: the gateway's)", Value: ws.Endpoint},
			{Name: "allowed_ips", Label: "Allowed IPs (comma-separated prefixes; empty: the gateway's routes)", Value: ws.AllowedIPs},
			{Name: "dns", Label: "DNS (comma-separated addresses; empty: the gateway's)", Value: ws.DNS},
		}
		l.Action, l.Submit = "/settings/wireguard", "Save WireGuard settings"
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageWGSettingsPost(w http.ResponseWriter, r *http.Request, p *principal) {
	ws := wgSettings{Endpoint: r.PostFormValue("endpoint"), AllowedIPs: r.PostFormValue("allowed_ips"), DNS: r.PostFormValue("dns")}
	if _, err := s.saveWGSettings(r, p, ws); err != nil {
		s.redirect(w, r, "/settings/wireguard", flashError, "not saved: "+err.Error())
		return
	}
	s.redirect(w, r, "/settings/wireguard", flashInfo, "WireGuard settings saved; devices enrolled from now on get them.")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
