package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// A consoleSetting is a console-wide value an admin changes at run time
// through GET and PUT /api/v1/settings/{key}. Each has one check, which
// also decides what the console reads (the readers fall back to the
// default for a stored value the check would refuse).
type consoleSetting struct {
	Key   string `json:"key"`
	Doc   string `json:"doc"`
	Value string `json:"value"` // as stored; "" means the default
	check func(string) error
}

// consoleSettings are the settings this API owns; the WireGuard ones
// have their own page and route (wgsettings.go).
var consoleSettings = []consoleSetting{
	{Key: SettingTrustedProxies, Doc: "CIDR prefixes or addresses of reverse proxies whose X-Forwarded-For is believed; empty: none",
		check: func(v string) error { _, err := parseTrustedProxies(v); return err }},
	{Key: SettingDeviceQuota, Doc: "devices one user may enrol for themselves; 0 for no limit; empty: 5",
		check: func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 10000 {
				return fmt.Errorf("%s: %q is not a number from 0 to 10000", SettingDeviceQuota, v)
			}
			return nil
		}},
	{Key: SettingClockSkew, Doc: "how far a gateway's event time may be from the console's before it is stored flagged; a Go duration; empty: 5m",
		check: func(v string) error {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 || d > 24*time.Hour {
				return fmt.Errorf("%s: %q is not a duration from 1s to 24h, such as 5m", SettingClockSkew, v)
			}
			return nil
		}},
}

func settingSpec(key string) (consoleSetting, bool) {
	i := slices.IndexFunc(consoleSettings, func(c consoleSetting) bool { return c.Key == key })
	if i < 0 {
		return consoleSetting{}, false
	}
	return consoleSettings[i], true
}

func (s *Server) apiListSettings(w http.ResponseWriter, r *http.Request, _ *principal) {
	out := make([]consoleSetting, len(consoleSettings))
	for i, c := range consoleSettings {
		c.Value = s.setting(r, c.Key, "")
		out[i] = c
	}
	writeJSON(w, http.StatusOK, page[consoleSetting]{Items: out})
}

type settingValue struct {
	Value string `json:"value"`
}

// apiPutSetting checks and stores one setting; "" restores the default.
// A refused value changes nothing.
func (s *Server) apiPutSetting(w http.ResponseWriter, r *http.Request, p *principal) {
	c, ok := settingSpec(r.PathValue("key"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no setting %q; GET /api/v1/settings lists them", r.PathValue("key"))
		return
	}
	var req settingValue
	if !decode(w, r, &req) {
		return
	}
	if req.Value != "" {
		if err := c.check(req.Value); err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "%v", err)
			return
		}
	}
	if err := s.st.SetSetting(r.Context(), c.Key, req.Value); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r.Context(), p.actor(), "settings.change", c.Key, "", map[string]string{"key": c.Key, "value": req.Value})
	c.Value = req.Value
	writeJSON(w, http.StatusOK, c)
}
