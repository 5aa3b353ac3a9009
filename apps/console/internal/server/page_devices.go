package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format("2006-01-02 15:04:05")
}

func nextURL(path, cursor string, o domain.ListOptions) string {
	return path + "?cursor=" + url.QueryEscape(cursor) + "&q=" + url.QueryEscape(o.Query)
}

func (s *Server) pageResources(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderResources(w, r, p, nil)
}

func (s *Server) renderResources(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	o := listOpts(r)
	rs, err := s.dom.ListResources(r.Context(), s.domainActor(r, p), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Resources", "resources"), Heading: "Resources", Query: o.Query, Result: res,
		Table: ui.Table{Head: []string{"Name", "Kind", "Address", "Port", "Labels", "Source"}}}
	if allowed(permOps, p.role) {
		l.Form = []ui.Field{{Name: "name", Label: "Name", Required: true}, {Name: "kind", Label: "Kind", Options: domain.ResourceKinds},
			{Name: "address", Label: "Address"}, {Name: "port", Label: "Port", Type: "number"}, {Name: "labels", Label: "Labels (key=value, comma separated)"}}
		l.Action, l.Submit, l.RowActions = "/resources", "Add resource", []string{"delete"}
	}
	for _, x := range rs {
		var labels []string
		for k, v := range x.Labels {
			labels = append(labels, k+"="+v)
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: x.Name, Cells: []string{x.Name, x.Kind, x.Address, strconv.Itoa(x.Port), strings.Join(labels, ", "), "console"}})
	}
	// The gateways' own resources follow the console's on the first page:
	// they are read-only here, edited in each gateway's configuration.
	if o.After == "" {
		local, err := s.localResourceRows(r, p, o.Query)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		l.Table.Rows = append(l.Table.Rows, local...)
	}
	if len(rs) == clampLimit(o.Limit) {
		l.Next = nextURL("/resources", rs[len(rs)-1].Name, o)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageResourcePost(w http.ResponseWriter, r *http.Request, p *principal) {
	port, _ := strconv.Atoi(r.PostFormValue("port"))
	labels, err := domain.ParseLabels("labels", r.PostFormValue("labels"))
	if err != nil {
		s.redirect(w, r, "/resources", flashError, "not saved: "+err.Error())
		return
	}
	if p := strings.TrimSpace(r.PostFormValue("port")); p != "" && strconv.Itoa(port) != p {
		s.redirect(w, r, "/resources", flashError, fmt.Sprintf("not saved: port: %q is not a number", p))
		return
	}
	x, err := s.dom.PutResource(r.Context(), s.domainActor(r, p), domain.Resource{Name: r.PostFormValue("name"), Kind: r.PostFormValue("kind"), Address: r.PostFormValue("address"), Port: port, Labels: labels})
	if err != nil {
		s.redirect(w, r, "/resources", flashError, "not saved: "+s.problemMessage(err))
		return
	}
	s.changed()
	s.redirect(w, r, "/resources", flashInfo, "Saved resource "+x.Name+".")
}

func (s *Server) pageResourceDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.dom.DeleteResource(r.Context(), s.domainActor(r, p), r.PathValue("id")); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.changed()
	s.redirect(w, r, "/resources", flashInfo, "Deleted "+r.PathValue("id")+".")
}

func (s *Server) pageGateways(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderGateways(w, r, p, nil)
}

func (s *Server) renderGateways(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	gs, err := s.dom.ListGateways(r.Context())
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
	g, tok, err := s.dom.CreateGateway(r.Context(), s.domainActor(r, p), domain.NewGateway{Name: r.PostFormValue("name")})
	if err != nil {
		s.redirect(w, r, "/gateways", flashError, "not added: "+s.problemMessage(err))
		return
	}
	pool, err := s.dom.AddressPool(r.Context())
	if err != nil {
		s.redirect(w, r, "/gateways", flashError, "added, but "+s.problemMessage(err))
		return
	}
	res := &ui.Result{Title: "Set up " + g.Name + ": the registration token below is shown once and valid 24 hours",
		Text: gatewaySetup(s.consoleURL(r), g.Name, tok, pool)}
	s.renderGateways(w, r, p, res)
}

func (s *Server) pageGatewayRevoke(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.dom.RevokeGateway(r.Context(), s.domainActor(r, p), r.PathValue("id")); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.redirect(w, r, "/gateways", flashInfo, "Gateway revoked.")
}

func (s *Server) pageDevices(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderDevices(w, r, p, nil)
}

func (s *Server) renderDevices(w http.ResponseWriter, r *http.Request, p *principal, res *ui.Result) {
	o := listOpts(r)
	// Operators and admins see every device; everybody else their own.
	a := s.domainActor(r, p)
	all := domain.SeesAllDevices(a)
	ds, err := s.dom.ListDevices(r.Context(), a, r.URL.Query().Get("owner"), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	heading := "Devices"
	if !all {
		heading = "Your devices"
	}
	l := ui.List{Page: s.pageOf(r, p, "Devices", "devices"), Heading: heading, Query: o.Query, Result: res,
		Table: ui.Table{Head: []string{"ID", "Name", "Owner", "Address", "Public key", "State", "Session until", "Posture"}}}
	if all {
		self := ""
		if p.user != nil {
			self = p.user.Email
		}
		l.Form = []ui.Field{{Name: "name", Label: "Device name", Required: true}, {Name: "owner", Label: "Owner (email or user id)", Value: self},
			{Name: "public_key", Label: "Public key (empty: generate a key pair)"}}
		l.Action, l.Submit, l.RowActions = "/devices", "Enrol device", []string{"disable", "enable", "renew", "delete"}
	} else if p.user != nil {
		l.Form = []ui.Field{{Name: "name", Label: "Device name", Required: true},
			{Name: "public_key", Label: "Public key (empty: generate a key pair)"}}
		l.Action, l.Submit, l.RowActions = "/devices/mine", "Enrol one of your devices", []string{"renew"}
	}
	for _, d := range ds {
		state, tone := "active", ""
		if d.Disabled {
			state, tone = "disabled", "muted"
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: d.ID, Tone: tone, Cells: []string{d.ID, d.Name, d.Owner, d.Address, d.PublicKey, state, when(d.SessionExpires), ui.Pretty(d.Posture)}})
	}
	if len(ds) == clampLimit(o.Limit) {
		l.Next = nextURL("/devices", ds[len(ds)-1].ID, o)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageDevicePost(w http.ResponseWriter, r *http.Request, p *principal) {
	e, err := s.dom.EnrolDevice(r.Context(), s.domainActor(r, p), domain.NewDevice{Owner: r.PostFormValue("owner"),
		Name: strings.TrimSpace(r.PostFormValue("name")), PublicKey: strings.TrimSpace(r.PostFormValue("public_key"))})
	if err != nil {
		s.redirect(w, r, "/devices", flashError, "not enrolled: "+s.problemMessage(err))
		return
	}
	s.renderDevices(w, r, p, enrolmentResult(e))
}

func (s *Server) pageDeviceToggle(disable bool) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		d, err := s.dom.UpdateDevice(r.Context(), s.domainActor(r, p), r.PathValue("id"), domain.DevicePatch{Disabled: &disable})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.changed()
		s.redirect(w, r, "/devices", flashInfo, fmt.Sprintf("Device %s %s.", d.Name, map[bool]string{true: "disabled", false: "enabled"}[disable]))
	}
}

func (s *Server) pageDeviceDelete(w http.ResponseWriter, r *http.Request, p *principal) {
	d, err := s.dom.DeleteDevice(r.Context(), s.domainActor(r, p), r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.changed()
	s.redirect(w, r, "/devices", flashInfo, "Deleted device "+d.Name+"; gateways drop it with their next bundle.")
}

func (s *Server) pageUsers(w http.ResponseWriter, r *http.Request, p *principal) {
	o := listOpts(r)
	us, err := s.dom.ListUsers(r.Context(), s.domainActor(r, p), o)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	l := ui.List{Page: s.pageOf(r, p, "Users", "users"), Heading: "Users", Query: o.Query,
		Table: ui.Table{Head: []string{"ID", "Email", "Name", "Role", "Groups", "MFA", "State"}}}
	roles := make([]string, len(domain.Roles))
	for i, x := range domain.Roles {
		roles[i] = string(x)
	}
	if allowed(permAdmin, p.role) {
		l.Form = []ui.Field{{Name: "email", Label: "Email", Type: "email", Required: true}, {Name: "name", Label: "Name"},
			{Name: "role", Label: "Role", Options: roles, Value: "viewer"}, {Name: "groups", Label: "Groups (comma separated)"},
			{Name: "password", Label: "Initial password (12+ characters)", Type: "password", Required: true}}
		l.Action, l.Submit, l.RowActions = "/users", "Add user", []string{"disable", "enable"}
	}
	l.Links = []ui.Link{{Label: "Groups and roles", URL: "/groups"}}
	if allowed(permAdmin, p.role) {
		l.Choice = &ui.Choice{Name: "role", Label: "Change role", Options: roles, Values: map[string]string{}}
		for _, u := range us {
			l.Choice.Values[u.ID] = string(u.Role)
		}
	}
	for _, u := range us {
		state, tone := "active", ""
		if u.Disabled {
			state, tone = "disabled", "muted"
		}
		mfa := "off"
		if u.TOTPEnabled {
			mfa = "TOTP"
		}
		l.Table.Rows = append(l.Table.Rows, ui.Row{ID: u.ID, Tone: tone, Href: "/devices?owner=" + url.QueryEscape(u.ID), Cells: []string{u.ID, u.Email, u.Name, string(u.Role), strings.Join(u.Groups, ", "), mfa, state}})
	}
	if len(us) == clampLimit(o.Limit) {
		l.Next = nextURL("/users", us[len(us)-1].ID, o)
	}
	s.render(w, r, http.StatusOK, ui.ListPage(l))
}

func (s *Server) pageUserPost(w http.ResponseWriter, r *http.Request, p *principal) {
	var groups []string
	for _, g := range strings.Split(r.PostFormValue("groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	u, err := s.dom.CreateUser(r.Context(), s.domainActor(r, p), domain.NewUser{
		Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Role: domain.Role(r.PostFormValue("role")), Groups: groups, Password: r.PostFormValue("password")})
	if err != nil {
		s.redirect(w, r, "/users", flashError, "not added: "+s.problemMessage(err))
		return
	}
	s.changed()
	s.redirect(w, r, "/users", flashInfo, "Added "+u.Email+".")
}

func (s *Server) pageUserToggle(disable bool) func(http.ResponseWriter, *http.Request, *principal) {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		u, err := s.dom.UpdateUser(r.Context(), s.domainActor(r, p), r.PathValue("id"), domain.UserPatch{Disabled: &disable})
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.changed()
		s.redirect(w, r, "/users", flashInfo, "Updated "+u.Email+".")
	}
}
