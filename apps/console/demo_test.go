package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/server"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestDemoFitsFreshDevices seeds the demo, enrols a new device for ann
// over the console's API as a person would, registers as the demo
// gateway with the demo's token and decides, with the policies and
// directory of the bundle that gateway receives, ann's first request from
// that device to the demo gateway's wiki: it must be allowed. The demo
// must also leave the WireGuard endpoint and allowed IPs to the gateway.
func TestDemoFitsFreshDevices(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t)
	srv, err := server.New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	login, err := seedDemo(ctx, srv, st, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{server.SettingWGEndpoint, server.SettingWGAllowed, server.SettingWGDNS} {
		if v, _ := st.Setting(ctx, key); v != "" {
			t.Errorf("the demo sets %s = %q, overriding the gateway's report", key, v)
		}
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	_, secret, err := srv.CreateAPIKey(context.Background(), "demo-test", store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"name": "ann-phone", "owner": demoDeviceOwner})
	req, _ := http.NewRequest("POST", hs.URL+"/api/v1/devices", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var en server.Enrolment
	json.NewDecoder(resp.Body).Decode(&en)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || en.Device == nil {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}

	cp, err := controlplane.New(hs.URL, &controlplane.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if _, err := cp.Register(ctx, login.token, "demo-gateway"); err != nil {
		t.Fatal(err)
	}
	b, err := cp.Bundle(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var docs []*policy.Document
	for _, p := range b.Policies {
		d, err := policy.Parse(p.Name, []byte(p.Source))
		if err != nil {
			t.Fatalf("policy %s: %v", p.Name, err)
		}
		docs = append(docs, d)
	}
	set, err := policy.Compile(docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.RunTests(); err != nil {
		t.Fatalf("the demo's policies fail their tests: %v", err)
	}
	now := time.Now()
	dev, owner, ok := b.Directory().Lookup(en.Device.PublicKey, now)
	if !ok {
		t.Fatalf("the new device is not in the bundle's directory")
	}
	r := controlplane.Request(dev, owner)
	r.Resource = policy.Resource{Kind: "http", Name: "wiki.office"}
	r.Source = policy.Source{IP: "100.64.0.2"}
	r.Time = now
	if d := set.Decide(ctx, &r); !d.Allowed() || d.Rule != "team-apps" {
		t.Fatalf("ann's new device to wiki.office: %s by %q, want allow by team-apps", d.Effect, d.Rule)
	}
	// A stale posture report is still refused, by the rule named.
	r.Device.PostureTime = now.Add(-48 * time.Hour)
	if d := set.Decide(ctx, &r); d.Allowed() || d.Rule != "deny-stale-posture" {
		t.Fatalf("stale posture: %s by %q, want deny by deny-stale-posture", d.Effect, d.Rule)
	}
	if !strings.Contains(en.Source, "no registered gateway has reported yet") {
		t.Errorf("enrolment source before the gateway reported: %q", en.Source)
	}
}

// TestDemoSeedsIDsLikeGateways runs the demo and checks that its seeded
// history names people and the gateway by id, as real gateway traffic
// does: otherwise one person shows up as two users (her email from the
// seed, her id from the gateway) and a filter finds half of her.
func TestDemoSeedsIDsLikeGateways(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"demo", "-db", db, "-listen", addr}, &out, &errb) }()
	waitUp(t, addr)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d: %s", code, errb.String())
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bg := context.Background()
	gws, err := st.ListGateways(bg)
	if err != nil || len(gws) != 1 {
		t.Fatalf("gateways %v, %v", gws, err)
	}
	es, err := st.ListAudit(bg, store.AuditFilter{Action: "decision", Limit: 1000})
	if err != nil || len(es) == 0 {
		t.Fatalf("seeded decisions: %d, %v", len(es), err)
	}
	for _, e := range es {
		if u, err := st.User(bg, e.Actor); err != nil {
			t.Fatalf("seeded decision %d has actor %q, not a user id: %v", e.Seq, e.Actor, err)
		} else if e.Gateway != gws[0].ID {
			t.Fatalf("seeded decision %d (%s) has gateway %q, want the demo gateway's id %s", e.Seq, u.Email, e.Gateway, gws[0].ID)
		}
	}
	as, err := st.ListAlerts(bg, "", store.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if _, err := st.User(bg, a.Subject); err != nil {
			t.Errorf("seeded alert %s has subject %q, not a user id", a.ID, a.Subject)
		}
	}
}
