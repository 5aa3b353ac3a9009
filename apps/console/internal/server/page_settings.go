package server

import (
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The WireGuard settings page: what enrolled devices' wg-quick files say
// where the gateway is (see domain/wgsettings.go for their meaning and
// checks).

func (s *Server) pageSettingRoutes() []route {
	return []route{
		pageRoute("GET", "/settings/wireguard", permRead, s.pageWGSettings),
		pageRoute("POST", "/settings/wireguard", permAdmin, s.pageWGSettingsPost),
	}
}

func (s *Server) pageWGSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	ws := p.dom.WGSettings(r.Context())
	gw, gwName := p.dom.GatewayReport(r.Context())
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
	ws := domain.WGSettings{Endpoint: r.PostFormValue("endpoint"), AllowedIPs: r.PostFormValue("allowed_ips"), DNS: r.PostFormValue("dns")}
	if _, err := p.dom.SetWGSettings(r.Context(), p.domainActor(), ws); err != nil {
		s.redirect(w, r, "/settings/wireguard", flashError, "not saved: "+s.problemMessage(err))
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
