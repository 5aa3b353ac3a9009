package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/server"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/policy"
	"github.com/gonaut/gonaut/tunnel"
)

type demoLogin struct{ email, password, token string }

// The demo device whose private key the demo hands out, so that the demo
// gateway can print a wg-quick config that works: ann is in the team
// group, which the office policy lets reach the demo gateway's *.office
// apps and printer.
const (
	demoDeviceOwner = "ann@demo.gonaut.dev"
	demoDeviceName  = "ann-laptop"
)

// demoOfficePolicy lets the team reach the demo gateway's apps and
// printer. It adds only allow rules, so that the enterprise policy's deny
// rules (stale posture, risk, embargoed countries) still hold and its
// tests still pass: a gateway compiles all enabled policies as one set and
// runs every document's tests against it.
const demoOfficePolicy = `description: The demo gateway's office apps and printer, for the team
rules:
  - id: team-apps
    description: The team reaches the office web apps
    effect: allow
    resources: {kind: http, names: ["*.office"]}
    when: '"team" in subject.groups'
  - id: team-printer
    description: The team prints
    effect: allow
    resources: {kind: tcp, names: [printer.office]}
    when: '"team" in subject.groups && resource.port == 9100'
tests:
  - name: the team opens the wiki from a laptop checked this morning
    request:
      subject: {groups: [team]}
      device: {posture_time: "2026-03-02T09:00:00Z"}
      resource: {kind: http, name: wiki.office}
      time: "2026-03-02T10:00:00Z"
    expect: allow
    rule: team-apps
  - name: sales does not print
    request:
      subject: {groups: [sales]}
      device: {posture_time: "2026-03-02T09:00:00Z"}
      resource: {kind: tcp, name: printer.office, port: 9100}
      time: "2026-03-02T10:00:00Z"
    expect: deny
`

// The enterprise template denies every device whose posture is older
// than a day, and a device enrolled in the console has no posture report
// at all (nothing measures it in the demo), so a new user's first
// connection would be refused. The demo's copy denies stale reports and
// leaves devices that never reported to the other rules: the office
// rules let the team in, and the template's allow rules still need
// posture facts that such a device does not have.
const (
	templateStaleWhen = `when: time - device.posture_time > duration("24h")`
	demoStaleWhen     = `when: device.posture_time > timestamp("1970-01-01T00:00:00Z") && time - device.posture_time > duration("24h")`
)

// demoEnterprise is the enterprise template as the demo stores it.
func demoEnterprise(src string) (string, error) {
	if strings.Count(src, templateStaleWhen) != 1 {
		return "", fmt.Errorf("demo: the enterprise template's stale-posture rule changed; update demoEnterprise")
	}
	src = strings.Replace(src, templateStaleWhen, demoStaleWhen, 1)
	return strings.Replace(src, "description: Device posture older than a day cannot be trusted",
		"description: A posture report older than a day cannot be trusted (devices that never reported are left to the other rules)", 1), nil
}

// seedDemo fills an empty store with a small company: users, groups,
// devices, resources, the enterprise policy template and an office policy,
// a gateway waiting to register, an hour of recorded decisions and a few
// alerts. The gateway's one-time token goes to tokenFile and the private
// key of ann's laptop to deviceKeyFile, when they are set. It refuses a
// store that already has users.
func seedDemo(ctx context.Context, srv *server.Server, st *store.DB, tokenFile, deviceKeyFile string) (demoLogin, error) {
	login := demoLogin{email: "admin@demo.gonaut.dev", password: domain.RandomPassword()}
	if us, _ := st.ListUsers(ctx, store.ListOptions{Limit: 1}); len(us) > 0 {
		return login, fmt.Errorf("the store already has users; use an empty -db for the demo")
	}
	if _, err := srv.AddUser(ctx, login.email, "Demo Admin", store.RoleAdmin, []string{"it"}, login.password); err != nil {
		return login, err
	}
	people := []struct {
		email  string
		role   store.Role
		groups []string
	}{
		{"ana@demo.gonaut.dev", store.RoleOperator, []string{"eng", "oncall"}},
		{"ben@demo.gonaut.dev", store.RolePolicyEditor, []string{"eng"}},
		{"chloe@demo.gonaut.dev", store.RoleAuditor, []string{"finance"}},
		{"dev@demo.gonaut.dev", store.RoleViewer, []string{"sales"}},
	}
	var owners []string
	// ids maps each person's email to her user id: the seeded history
	// names people by id, as gateways do, so that one person is one
	// actor on every page.
	ids := map[string]string{}
	for _, p := range people {
		u, err := srv.AddUser(ctx, p.email, p.email[:len(p.email)-len("@demo.gonaut.dev")], p.role, p.groups, domain.RandomPassword())
		if err != nil {
			return login, err
		}
		owners = append(owners, u.ID)
		ids[p.email] = u.ID
	}
	ann, err := srv.AddUser(ctx, demoDeviceOwner, "ann", store.RoleViewer, []string{"team"}, domain.RandomPassword())
	if err != nil {
		return login, err
	}
	for _, g := range []store.Group{{Name: "team", Description: "Everyone at the office"}, {Name: "eng", Description: "Engineering"}, {Name: "oncall", Description: "On-call rotation"}, {Name: "finance", Description: "Finance"}, {Name: "sales", Description: "Sales"}, {Name: "it", Description: "IT"}} {
		if err := st.PutGroup(ctx, g); err != nil {
			return login, err
		}
	}
	for _, r := range []store.Resource{
		{Name: "db-main.prod", Kind: "tcp", Address: "10.0.1.5", Port: 5432, Labels: map[string]string{"env": "prod", "tier": "data"}},
		{Name: "wiki", Kind: "http", Address: "10.0.2.10", Port: 80, Labels: map[string]string{"env": "prod"}},
		{Name: "grafana", Kind: "http", Address: "10.0.2.11", Port: 3000, Labels: map[string]string{"env": "prod"}},
		{Name: "ssh-bastion", Kind: "tcp", Address: "10.0.0.2", Port: 22, Labels: map[string]string{"env": "prod"}},
		{Name: "plc-serial", Kind: "serial", Address: "/dev/ttyUSB0", Labels: map[string]string{"site": "plant-1"}},
	} {
		if err := st.PutResource(ctx, &r); err != nil {
			return login, err
		}
	}
	for i, owner := range owners {
		var k [32]byte
		for j := range k {
			k[j] = byte(rand.IntN(256))
		}
		posture, _ := json.Marshal(policy.Device{OS: []string{"macos", "linux", "windows", "ios"}[i%4], Managed: i%3 != 2, DiskEncrypted: true})
		d := &store.Device{Name: fmt.Sprintf("laptop-%d", i+1), Owner: owner, PublicKey: b64(k[:]), Address: fmt.Sprintf("100.64.0.%d/32", i+2), Posture: posture, SessionExpires: time.Now().Add(12 * time.Hour)}
		if err := st.CreateDevice(ctx, d); err != nil {
			return login, err
		}
	}
	if t, ok := policy.TemplateByName("enterprise"); ok {
		src, err := demoEnterprise(string(t.Source))
		if err != nil {
			return login, err
		}
		if _, err := st.SavePolicy(ctx, "enterprise", src, "system", "from the enterprise template; stale posture means a posture report older than a day"); err != nil {
			return login, err
		}
	}
	if _, err := st.SavePolicy(ctx, "office", demoOfficePolicy, "system", "the demo gateway's office apps"); err != nil {
		return login, err
	}
	// ann's laptop: a key pair made here, its private key handed to the
	// demo gateway (which prints the wg-quick config), with fresh posture
	// so the enterprise policy's stale-posture rule lets it in.
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return login, err
	}
	posture, _ := json.Marshal(policy.Device{OS: "linux", Managed: true, DiskEncrypted: true, PostureTime: time.Now().UTC()})
	if err := st.CreateDevice(ctx, &store.Device{Name: demoDeviceName, Owner: ann.ID, PublicKey: key.PublicKey().String(), Address: "100.64.0.100/32", Posture: posture, SessionExpires: time.Now().Add(12 * time.Hour)}); err != nil {
		return login, err
	}
	if deviceKeyFile != "" {
		if err := os.WriteFile(deviceKeyFile, []byte(key.String()+"\n"), 0o600); err != nil {
			return login, err
		}
	}
	gw, tok, err := srv.AddGateway(ctx, "demo-gateway", 7*24*time.Hour)
	if err != nil {
		return login, err
	}
	login.token = tok
	if tokenFile != "" {
		if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			return login, err
		}
	}
	// An hour of decisions, so that the dashboard and simulations have
	// something to show.
	now := time.Now().UTC()
	resources := []string{"db-main.prod", "wiki", "grafana", "ssh-bastion"}
	var evs []store.AuditEvent
	for i := range 600 {
		p := people[rand.IntN(len(people))]
		res := resources[rand.IntN(len(resources))]
		effect := "allow"
		if p.groups[0] == "sales" && res != "wiki" || rand.IntN(10) == 0 {
			effect = "deny"
		}
		req, _ := json.Marshal(policy.Request{
			Subject:  policy.Subject{ID: ids[p.email], Email: p.email, Groups: p.groups, MFA: rand.IntN(4) != 0},
			Device:   policy.Device{Managed: rand.IntN(5) != 0, DiskEncrypted: true, OS: "macos"},
			Source:   policy.Source{IP: fmt.Sprintf("10.%d.%d.%d", rand.IntN(3), rand.IntN(255), rand.IntN(255))},
			Resource: policy.Resource{Kind: map[bool]string{true: "http", false: "tcp"}[res == "wiki" || res == "grafana"], Name: res, Labels: map[string]string{"env": "prod"}},
		})
		det, _ := json.Marshal(map[string]any{"request": json.RawMessage(req), "rule": "demo"})
		evs = append(evs, store.AuditEvent{Time: now.Add(-time.Duration(600-i) * 6 * time.Second), Actor: ids[p.email], Action: "decision", Resource: res, Effect: effect, Gateway: gw.ID, EventID: fmt.Sprintf("demo-%d", i), Detail: det})
	}
	if _, _, err := st.AppendAudit(ctx, evs); err != nil {
		return login, err
	}
	for _, a := range []store.Alert{
		{Severity: "high", Kind: "impossible_travel", Subject: ids["dev@demo.gonaut.dev"], Message: "sign-ins from Lisbon and Osaka 20 minutes apart", Evidence: json.RawMessage(`{"from":"PT","to":"JP","minutes":20}`)},
		{Severity: "medium", Kind: "denied_burst", Subject: ids["dev@demo.gonaut.dev"], Message: "42 denied accesses to db-main.prod in 5 minutes"},
		{Severity: "low", Kind: "new_device", Subject: ids["ana@demo.gonaut.dev"], Message: "first access from laptop-1"},
	} {
		if err := st.CreateAlert(ctx, &a); err != nil {
			return login, err
		}
	}
	// Only the address pool is set: the endpoint, allowed IPs and DNS that
	// enrolled devices get come from the demo gateway's own report, so
	// that they are right wherever it runs.
	if err := st.SetSetting(ctx, server.SettingWGNetwork, "100.64.0.0/16"); err != nil {
		return login, err
	}
	return login, nil
}
