package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageGatewayRoutes() []route {
	return []route{
		pageRoute("GET", "/gateways", permRead, s.pageGateways),
		pageRoute("POST", "/gateways", permOps, s.pageGatewayPost),
		pageRoute("POST", "/gateways/{id}/revoke", permOps, s.pageGatewayRevoke),
	}
}

func (s *Server) pageGateways(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderGateways(w, r, p, nil)
}

func (s *Server) renderGateways(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	gs, err := p.dom.ListGateways(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Gateways", "gateways"), Heading: "Gateways", Result: res,
		Table: ui.Table{Head: []string{"Name", "State", "Last seen", "Bundle", "Peers", "Flows", "Version"}},
		Links: []ui.Link{{Label: "WireGuard settings for devices", URL: "/settings/wireguard"}}}
	if allowed(permOps, p.role) {
		l.Form = []ui.Field{{Name: "name", Label: "Gateway name", Required: true}}
		l.Action, l.Submit, l.RowActions = "/gateways", "Add gateway", []string{"revoke"}
	}
	now := s.now()
	for _, g := range gs {
		state, tone := "awaiting registration", "muted"
		switch {
		case g.Revoked:
			state = "revoked"
		case g.Registered.IsZero():
		case now.Sub(g.LastSeen) < time.Minute:
			state, tone = "healthy", "allow"
		default:
			state, tone = "silent", "deny"
		}
		var st struct {
			Peers, Flows int
			Version      string
		}
		json.Unmarshal(g.Status, &st)
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: g.ID, Tone: tone, Cells: []string{g.Name, state, when(g.LastSeen), strconv.FormatInt(g.BundleVersion, 10), strconv.Itoa(st.Peers), strconv.Itoa(st.Flows), st.Version}})
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageGatewayPost(w http.ResponseWriter, r *http.Request, p *principal) {
	g, tok, err := p.dom.CreateGateway(r.Context(), p.domainActor(), domain.NewGateway{Name: r.PostFormValue("name")})
	if err != nil {
		s.redirect(w, r, "/gateways", flashError, "not added: "+s.problemMessage(err))
		return
	}
	pool, err := p.dom.AddressPool(r.Context())
	if err != nil {
		s.redirect(w, r, "/gateways", flashError, "added, but "+s.problemMessage(err))
		return
	}
	res := &ui.Result{Title: "Set up " + g.Name + ": the registration token below is shown once and valid 24 hours",
		Text: gatewaySetup(s.consoleURL(r), g.Name, tok, pool)}
	s.renderGateways(w, r, p, res)
}

func (s *Server) pageGatewayRevoke(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := p.dom.RevokeGateway(r.Context(), p.domainActor(), r.PathValue("id")); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.redirect(w, r, "/gateways", flashInfo, "Gateway revoked.")
}
