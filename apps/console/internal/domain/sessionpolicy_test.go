package domain

import (
	"testing"
	"time"
)

func TestParseSessionPolicy(t *testing.T) {
	def := SessionPolicy{Idle: 30 * time.Minute, Max: 12 * time.Hour}
	p, err := ParseSessionPolicy("sessions.admin", "idle=15m max=8h concurrent=3 when_full=refuse mfa=required", def)
	if err != nil || p != (SessionPolicy{Idle: 15 * time.Minute, Max: 8 * time.Hour, Concurrent: 3, RefuseWhenFull: true, RequireMFA: true}) {
		t.Fatalf("%+v %v", p, err)
	}
	if p, err := ParseSessionPolicy("sessions.admin", "", def); err != nil || p != def {
		t.Errorf("empty: %+v %v", p, err)
	}
	for _, bad := range []string{"idle=0s", "max=1000h", "idle=2h max=1h", "concurrent=-1", "concurrent=101", "when_full=maybe", "mfa=yes", "idle=1m idle=2m", "colour=red", "idle"} {
		if p, err := ParseSessionPolicy("sessions.admin", bad, def); err == nil || p != def {
			t.Errorf("%q: %+v %v", bad, p, err)
		}
	}
}

// FuzzParseSessionPolicy: any value gives a policy within the bounds,
// idle no longer than max, or an error and the defaults.
func FuzzParseSessionPolicy(f *testing.F) {
	for _, s := range []string{"", "idle=15m max=8h concurrent=3 when_full=refuse mfa=required", "idle=1h max=30m", "max=720h", "concurrent=0 mfa=optional"} {
		f.Add(s)
	}
	def := SessionPolicy{Idle: 30 * time.Minute, Max: 12 * time.Hour}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := ParseSessionPolicy("sessions.viewer", v, def)
		if err != nil {
			if p != def {
				t.Fatalf("%q: refused but changed %+v", v, p)
			}
			return
		}
		if p.Idle < minSessionIdle || p.Max > maxSessionMax || p.Idle > p.Max || p.Concurrent < 0 || p.Concurrent > 100 {
			t.Fatalf("%q: out of bounds %+v", v, p)
		}
	})
}
