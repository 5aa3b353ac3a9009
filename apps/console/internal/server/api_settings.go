package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// consoleSetting is the API shape of a console-wide setting an admin
// changes at run time through GET and PUT /api/v1/settings/{key}; the
// WireGuard ones have their own route (wgSettings, below) and page
// (page_settings.go). What each means and how it is checked is the
// domain's (domain/settings.go).
type consoleSetting struct {
	Key   string `json:"key"`
	Doc   string `json:"doc"`
	Value string `json:"value"` // as stored; "" means the default
}

func apiSetting(c domain.ConsoleSetting) consoleSetting {
	return consoleSetting{Key: c.Key, Doc: c.Doc, Value: c.Value}
}

func (s *Server) apiSettingRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/settings", perm: permAdmin, h: s.apiListSettings},
		{method: "PUT", path: "/api/v1/settings/{key}", perm: permAdmin, h: s.apiPutSetting, sensitive: true},
		{method: "GET", path: "/api/v1/settings/wireguard", perm: permRead, h: s.apiGetWGSettings},
		{method: "PUT", path: "/api/v1/settings/wireguard", perm: permAdmin, h: s.apiPutWGSettings},
	}
}

func (s *Server) apiListSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	cs := p.dom.ListSettings(r.Context())
	out := make([]consoleSetting, len(cs))
	for i, c := range cs {
		out[i] = apiSetting(c)
	}
	writeJSON(w, http.StatusOK, page[consoleSetting]{Items: out})
}

type settingValue struct {
	Value string `json:"value"`
}

// apiPutSetting checks and stores one setting; "" restores the default.
// A refused value changes nothing.
func (s *Server) apiPutSetting(w http.ResponseWriter, r *http.Request, p *principal) {
	var req settingValue
	if !decode(w, r, &req) {
		return
	}
	c, err := p.dom.SetSetting(r.Context(), p.domainActor(), r.PathValue("key"), req.Value)
	if errors.Is(err, domain.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no setting %q; GET /api/v1/settings lists them", r.PathValue("key"))
		return
	}
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiSetting(c))
}

// wgSettings is the API shape of the WireGuard settings; "" means "use
// what the gateway reports".
type wgSettings struct {
	Endpoint   string `json:"endpoint"`    // host:port
	AllowedIPs string `json:"allowed_ips"` // comma-separated prefixes
	DNS        string `json:"dns"`         // comma-separated addresses
}

func apiWGSettings(ws domain.WGSettings) wgSettings {
	return wgSettings{Endpoint: ws.Endpoint, AllowedIPs: ws.AllowedIPs, DNS: ws.DNS}
}

func (ws wgSettings) toDomain() domain.WGSettings {
	return domain.WGSettings{Endpoint: ws.Endpoint, AllowedIPs: ws.AllowedIPs, DNS: ws.DNS}
}

func (s *Server) apiGetWGSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	writeJSON(w, http.StatusOK, apiWGSettings(p.dom.WGSettings(r.Context())))
}

func (s *Server) apiPutWGSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	var req wgSettings
	if !decode(w, r, &req) {
		return
	}
	ws, err := p.dom.SetWGSettings(r.Context(), p.domainActor(), req.toDomain())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiWGSettings(ws))
}
