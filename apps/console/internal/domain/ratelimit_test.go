package domain

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want RateLimit
	}{
		{"600/1m", RateLimit{600, time.Minute}},
		{" 50 / 10s ", RateLimit{50, 10 * time.Second}},
		{"1/24h", RateLimit{1, 24 * time.Hour}},
		{"1000000/1s", RateLimit{1_000_000, time.Second}},
		{"1/1m30s", RateLimit{1, 90 * time.Second}},
		{"0", RateLimit{}},
		{"off", RateLimit{}},
		{"OFF", RateLimit{}},
	} {
		got, err := ParseRateLimit(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "600", "600/", "/1m", "0/1m", "-1/1m", "1000001/1s", "600/0s", "600/500ms", "600/1.5s", "600/25h", "600/m", "six/1m", "600/1m/1m", "on"} {
		_, err := ParseRateLimit(bad)
		if err == nil {
			t.Errorf("ParseRateLimit(%q) accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "600/1m") {
			t.Errorf("ParseRateLimit(%q): %v, which does not show the form", bad, err)
		}
	}
}

// FuzzParseRateLimit: any input either is refused or gives a limit
// within the bounds, which reads back from its String unchanged.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"600/1m", "0", "off", "1/24h", "1000000/1s", "600/1.5s", "9999999999999999999/1s", "1/-1s", "1/1h0m0s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseRateLimit(s)
		if err != nil {
			return
		}
		if !l.Off() && (l.N < 1 || l.N > maxRateN || l.Per < minRatePer || l.Per > maxRatePer || l.Per%time.Second != 0) {
			t.Fatalf("ParseRateLimit(%q) = %+v, out of bounds", s, l)
		}
		if l.Off() && l.Per != 0 {
			t.Fatalf("ParseRateLimit(%q) = %+v: off with a period", s, l)
		}
		back, err := ParseRateLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseRateLimit(%q) = %+v, whose String %q reads as %+v, %v", s, l, l.String(), back, err)
		}
	})
}

// TestAPIRateLimitsSettings: the limits are settings, refused unless
// they parse, and read back as the defaults when unset.
func TestAPIRateLimitsSettings(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	admin := Actor{ID: "system", Role: RoleAdmin}
	if got, want := f.svc.APIRateLimits(ctx), (APIRateLimits{DefaultAPIRateKey, DefaultAPIRateUser, DefaultAPIRateAddress}); got != want {
		t.Fatalf("unset limits = %+v, want the defaults %+v", got, want)
	}
	for _, key := range []string{SettingAPIRateKey, SettingAPIRateUser, SettingAPIRateAddress} {
		_, err := f.svc.SetSetting(ctx, admin, key, "lots")
		wantInvalid(t, err, "")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("refusal of %s does not name it: %v", key, err)
		}
	}
	f.audited(t, "settings.change", 0)
	for key, v := range map[string]string{SettingAPIRateKey: "5/1s", SettingAPIRateUser: "off", SettingAPIRateAddress: "100/1h"} {
		if _, err := f.svc.SetSetting(ctx, admin, key, v); err != nil {
			t.Fatalf("%s = %q: %v", key, v, err)
		}
	}
	want := APIRateLimits{Key: RateLimit{5, time.Second}, Address: RateLimit{100, time.Hour}}
	if got := f.svc.APIRateLimits(ctx); got != want {
		t.Fatalf("limits = %+v, want %+v", got, want)
	}
}
