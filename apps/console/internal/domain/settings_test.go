package domain

import (
	"context"
	"errors"
	"testing"
)

func TestSetSetting(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	admin := Actor{ID: "system", Role: RoleAdmin}
	if _, err := f.svc.SetSetting(ctx, admin, "no.such", "1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	for key, bad := range map[string]string{SettingTrustedProxies: "10.0.0.0/33", SettingDeviceQuota: "-1", SettingClockSkew: "forever"} {
		_, err := f.svc.SetSetting(ctx, admin, key, bad)
		wantInvalid(t, err, "")
		if v := f.svc.Setting(ctx, key, ""); v != "" {
			t.Errorf("refused %s = %q stored as %q", key, bad, v)
		}
	}
	f.audited(t, "settings.change", 0)
	c, err := f.svc.SetSetting(ctx, admin, SettingClockSkew, "1m")
	if err != nil || c.Value != "1m" || c.Doc == "" {
		t.Fatalf("set: %+v %v", c, err)
	}
	if ev := f.audited(t, "settings.change", 1)[0]; ev.Resource != SettingClockSkew || string(ev.Detail) != `{"key":"gateways.clock_skew","value":"1m"}` {
		t.Fatalf("entry %+v %s", ev, ev.Detail)
	}
	if f.svc.clockSkew(ctx).String() != "1m0s" {
		t.Fatalf("clock skew read as %v", f.svc.clockSkew(ctx))
	}
}

func TestSetWGSettings(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	admin := Actor{ID: "system", Role: RoleAdmin}
	if _, err := f.svc.SetWGSettings(ctx, admin, WGSettings{Endpoint: "nowhere"}); err == nil {
		t.Fatal("an endpoint without a port was stored")
	}
	f.audited(t, "settings.wireguard", 0)
	ws, err := f.svc.SetWGSettings(ctx, admin, WGSettings{Endpoint: " VPN.example.com:51820", DNS: "10.0.0.53,::1"})
	if err != nil || ws.Endpoint != "vpn.example.com:51820" || ws.DNS != "10.0.0.53, ::1" || f.svc.WGSettings(ctx) != ws {
		t.Fatalf("stored %+v (%v), read %+v", ws, err, f.svc.WGSettings(ctx))
	}
	if ev := f.audited(t, "settings.wireguard", 1)[0]; string(ev.Detail) != `{"endpoint":"vpn.example.com:51820","allowed_ips":"","dns":"10.0.0.53, ::1"}` {
		t.Fatalf("entry detail %s", ev.Detail)
	}
}
