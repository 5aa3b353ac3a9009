package controlplane_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

func TestBundleDirectoryAndPolicies(t *testing.T) {
	now := time.Now()
	b := &controlplane.Bundle{
		Version: 3,
		Policies: []controlplane.Policy{{Name: "p", Version: 1, Source: `rules:
  - id: eng
    effect: allow
    when: '"eng" in subject.groups && subject.mfa'
`}},
		Users: []controlplane.Identity{{ID: "u1", Email: "a@x", Groups: []string{"eng"}}, {ID: "u2", Disabled: true}},
		Devices: []controlplane.Device{
			{ID: "d1", Owner: "u1", PublicKey: "K1", MFATime: now, Posture: json.RawMessage(`{"managed":true}`)},
			{ID: "d2", Owner: "u2", PublicKey: "K2"},
			{ID: "d3", Owner: "u1", PublicKey: "K3", SessionExpires: now.Add(-time.Minute)},
			{ID: "d4", Owner: "u1", PublicKey: "K4", Disabled: true},
		},
	}
	dir := b.Directory()
	dev, u, ok := dir.Lookup("K1", now)
	if !ok || u.Email != "a@x" {
		t.Fatalf("K1 = %v %v %v", dev, u, ok)
	}
	for _, k := range []string{"K2", "K3", "K4", "nope"} {
		if _, _, ok := dir.Lookup(k, now); ok {
			t.Errorf("%s may connect", k)
		}
	}
	set, err := b.CompilePolicies(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := controlplane.Request(dev, u)
	if !req.Device.Managed || !req.Subject.MFA || req.Subject.AuthTime.IsZero() {
		t.Errorf("request = %+v", req)
	}
	req.Resource = policy.Resource{Kind: "tcp", Name: "db"}
	if d := set.Decide(t.Context(), &req); d.Effect != policy.Allow {
		t.Errorf("decision = %v", d.Effect)
	}
	b.Policies[0].Source = "rules: [ {id: x, effect: allow, when: 'nope.x'} ]"
	if _, err := b.CompilePolicies(nil); !errors.Is(err, policy.ErrInvalid) {
		t.Errorf("bad policy: %v", err)
	}
}

// TestPostureCannotClaimItsSource: the posture facts are whatever a
// person or device wrote, so a "posture_source" inside them is ignored
// and the console's record of who set them wins.
func TestPostureCannotClaimItsSource(t *testing.T) {
	for _, src := range []string{"person", "device", ""} {
		dev := &controlplane.Device{ID: "d1", Owner: "u1", PostureSource: src, Posture: json.RawMessage(`{"managed":true,"posture_source":"device-claimed"}`)}
		r := controlplane.Request(dev, &controlplane.Identity{ID: "u1"})
		if r.Device.PostureSource != src || !r.Device.Managed {
			t.Errorf("source %q: request device = %+v", src, r.Device)
		}
	}
}
