package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// TestSettingsAPI changes console settings over the API: a value its check
// refuses is a 400 and leaves the stored one, a good one takes effect (a
// quota of 1 stops a second self-enrolment), and every change is audited.
func TestSettingsAPI(t *testing.T) {
	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	var list struct {
		Items []consoleSetting `json:"items"`
	}
	e.mustCall(domain.RoleAdmin, "GET", "/api/v1/settings", nil, 200, &list)
	if len(list.Items) != len(e.srv.plat.Default().ListSettings(bg)) || list.Items[0].Doc == "" {
		t.Fatalf("settings list: %+v", list.Items)
	}
	for key, bad := range map[string]string{
		SettingTrustedProxies: "10.0.0.0/33",
		SettingDeviceQuota:    "-1",
		SettingClockSkew:      "forever",
	} {
		e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/"+key, settingValue{Value: bad}, 400, nil)
		if v, _ := e.st.Setting(bg, key); v != "" {
			t.Errorf("refused %s = %q was stored as %q", key, bad, v)
		}
	}
	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/no.such", settingValue{Value: "1"}, 404, nil)

	e.mustCall(domain.RoleAdmin, "PUT", "/api/v1/settings/"+SettingDeviceQuota, settingValue{Value: "1"}, 200, nil)
	enrol := selfEnroller(t, e, hs, "one@example.com")
	if status, body := enrol(); status != http.StatusCreated {
		t.Fatalf("first enrolment: %d %s", status, body)
	}
	if status, body := enrol(); status != http.StatusConflict || !strings.Contains(body, "quota") {
		t.Fatalf("second enrolment under a quota of 1: %d %s", status, body)
	}
	if n := countAudit(t, e.st, "settings.change"); n != 1 {
		t.Errorf("%d settings.change entries, want 1", n)
	}
	e.mustCall(domain.RoleOperator, "PUT", "/api/v1/settings/"+SettingDeviceQuota, settingValue{Value: "0"}, 403, nil)
}
