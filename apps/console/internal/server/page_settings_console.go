package server

import (
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

// The organisation's settings page, /settings: every setting an admin
// changes at run time (allowlists, session policies, rate limits,
// quotas of self-enrolment, ...), with what each means, and a form that
// sets one, through the operation the API's PUT /api/v1/settings/{key}
// uses. The WireGuard settings have a page of their own
// (page_settings.go).

func (s *Server) pageConsoleSettingRoutes() []route {
	return []route{
		pageRoute("GET", "/settings", permAdmin, s.pageConsoleSettings),
		sensitive(pageRoute("POST", "/settings", permAdmin, s.pageConsoleSettingPost)),
	}
}

func (s *Server) pageConsoleSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	cs := p.dom.ListSettings(r.Context())
	l := ui.List{Page: s.pageOf(r, p, "Settings", "users"), Heading: "Settings of this organisation",
		Table: ui.Table{Head: []string{"Setting", "Value (empty: the default)", "What it is"}}}
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.Key
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: c.Key, Cells: []string{c.Key, orDash(c.Value), c.Doc}})
	}
	l.Form = []ui.Field{
		{Name: "key", Label: "Setting", Options: keys},
		{Name: "value", Label: "New value (empty: back to the default)"},
	}
	l.Action, l.Submit = "/settings", "Save setting"
	l.Links = []ui.Link{{Label: "WireGuard settings", URL: "/settings/wireguard"}, {Label: "Support access", URL: "/settings/support"}, {Label: "API keys", URL: "/apikeys"}}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageConsoleSettingPost(w http.ResponseWriter, r *http.Request, p *principal) {
	key := r.PostFormValue("key")
	c, err := p.dom.SetSetting(r.Context(), p.domainActor(), key, r.PostFormValue("value"))
	if err != nil {
		s.redirect(w, r, "/settings", flashError, key+" not saved: "+s.problemMessage(err))
		return
	}
	msg := c.Key + " saved."
	if c.Value == "" {
		msg = c.Key + " is back to its default."
	}
	s.redirect(w, r, "/settings", flashInfo, msg)
}
