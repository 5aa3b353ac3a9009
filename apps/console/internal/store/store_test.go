package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

var ctx = context.Background()

func TestUsersAndGroups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		v0, _ := s.ConfigVersion(ctx)
		u := &store.User{Email: "Ada@Example.com", Name: "Ada", Role: store.RoleAdmin, Groups: []string{"eng"}, PasswordHash: "h"}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if v1, _ := s.ConfigVersion(ctx); v1 <= v0 {
			t.Errorf("config version did not move: %d -> %d", v0, v1)
		}
		if err := s.CreateUser(ctx, &store.User{Email: "ada@example.com", Role: store.RoleViewer}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate email: %v, want ErrConflict", err)
		}
		if err := s.CreateUser(ctx, &store.User{Email: "x@example.com", Role: "root"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad role: %v", err)
		}
		got, err := s.UserByEmail(ctx, "ADA@example.com")
		if err != nil || got.ID != u.ID || got.Groups[0] != "eng" || got.Role != store.RoleAdmin {
			t.Fatalf("UserByEmail = %+v, %v", got, err)
		}
		got.Name = "Ada L."
		if err := s.UpdateUser(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, _ := s.User(ctx, u.ID)
		if again.Name != "Ada L." || again.Version != 1 || got.Version != 1 {
			t.Errorf("update lost fields: %+v", again)
		}
		if _, err := s.User(ctx, "u_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing user: %v", err)
		}
		for i := range 5 {
			if err := s.CreateUser(ctx, &store.User{Email: fmt.Sprintf("user%d@example.com", i), Name: "User", Role: store.RoleViewer}); err != nil {
				t.Fatal(err)
			}
		}
		page1, _ := s.ListUsers(ctx, store.ListOptions{Limit: 4})
		page2, _ := s.ListUsers(ctx, store.ListOptions{Limit: 4, After: page1[3].ID})
		if len(page1) != 4 || len(page2) != 2 {
			t.Errorf("pages of %d and %d users, want 4 and 2", len(page1), len(page2))
		}
		if found, _ := s.ListUsers(ctx, store.ListOptions{Query: "USER3"}); len(found) != 1 {
			t.Errorf("search found %d users", len(found))
		}
		if err := s.PutGroup(ctx, store.Group{Name: "eng", Description: "Engineering"}); err != nil {
			t.Fatal(err)
		}
		s.PutGroup(ctx, store.Group{Name: "eng", Description: "Engineers"})
		gs, _ := s.ListGroups(ctx)
		if len(gs) != 1 || gs[0].Description != "Engineers" {
			t.Errorf("groups = %+v", gs)
		}
		if err := s.DeleteGroup(ctx, "eng"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGroup(ctx, "eng"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
	})
}

func TestDevices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		d := &store.Device{Name: "laptop", Owner: "u_1", PublicKey: "pk1", Address: "100.64.0.2/32", Posture: json.RawMessage(`{"managed":true}`)}
		if err := s.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateDevice(ctx, &store.Device{Owner: "u_2", PublicKey: "pk1"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate key: %v", err)
		}
		d.Disabled = true
		d.SessionExpires = time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		if err := s.UpdateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, err := s.Device(ctx, d.ID)
		if err != nil || !got.Disabled || !got.SessionExpires.Equal(d.SessionExpires) || string(got.Posture) != `{"managed":true}` {
			t.Fatalf("Device = %+v, %v", got, err)
		}
		var many []store.Device
		for i := range 1200 {
			many = append(many, store.Device{Name: fmt.Sprintf("dev%04d", i), Owner: "u_2", PublicKey: fmt.Sprintf("key%04d", i)})
		}
		if err := s.BulkDevices(ctx, many); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountDevices(ctx); n != 1201 {
			t.Errorf("CountDevices = %d", n)
		}
		seen, after := 0, ""
		for {
			page, err := s.ListDevices(ctx, "u_2", store.ListOptions{After: after, Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			seen += len(page)
			after = page[len(page)-1].ID
		}
		if seen != 1200 {
			t.Errorf("paged through %d devices of u_2, want 1200", seen)
		}
	})
}

func TestResourcesAndPolicies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		r := &store.Resource{Name: "db-main.prod", Kind: "tcp", Address: "10.0.0.5", Port: 5432, Labels: map[string]string{"env": "prod"}}
		if err := s.PutResource(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.PutResource(ctx, &store.Resource{Name: "bad name", Kind: "tcp"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad name: %v", err)
		}
		got, err := s.Resource(ctx, "db-main.prod")
		if err != nil || got.Labels["env"] != "prod" || got.Port != 5432 {
			t.Fatalf("Resource = %+v, %v", got, err)
		}
		if err := s.DeleteResource(ctx, "db-main.prod"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resource(ctx, "db-main.prod"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted resource: %v", err)
		}

		for i := 1; i <= 3; i++ {
			v, err := s.SavePolicy(ctx, "base", fmt.Sprintf("rules: [] # v%d", i), "ada@example.com", fmt.Sprintf("change %d", i))
			if err != nil || v.Version != i {
				t.Fatalf("SavePolicy %d = %+v, %v", i, v, err)
			}
		}
		p, err := s.Policy(ctx, "base")
		if err != nil || p.Version != 3 || p.Source != "rules: [] # v3" || p.Author != "ada@example.com" || p.Message != "change 3" {
			t.Fatalf("Policy = %+v, %v", p, err)
		}
		vs, _ := s.PolicyVersions(ctx, "base")
		if len(vs) != 3 || vs[0].Version != 3 || vs[2].Source != "rules: [] # v1" {
			t.Errorf("versions = %+v", vs)
		}
		v1, err := s.PolicyVersion(ctx, "base", 1)
		if err != nil || v1.Message != "change 1" {
			t.Errorf("version 1 = %+v, %v", v1, err)
		}
		ps, _ := s.ListPolicies(ctx, store.ListOptions{Query: "v3"})
		if len(ps) != 1 {
			t.Errorf("search policies: %d", len(ps))
		}
		if err := s.DeletePolicy(ctx, "base"); err != nil {
			t.Fatal(err)
		}
		if vs, _ := s.PolicyVersions(ctx, "base"); len(vs) != 3 {
			t.Errorf("history lost after delete: %d versions", len(vs))
		}
	})
}

func TestGatewayRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		g := &store.Gateway{Name: "edge-1", TokenHash: "tok", TokenExpires: time.Now().Add(time.Hour)}
		if err := s.CreateGateway(ctx, g); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		// Two registrations race with one token: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.RegisterGateway(ctx, "tok", fmt.Sprintf("secret%d", i), now.Add(time.Duration(i)))
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, store.ErrTokenUsed) {
				t.Errorf("register: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d registrations with one token succeeded", wins)
		}
		got, _ := s.Gateway(ctx, g.ID)
		if got.SecretHash == "" || got.Registered.IsZero() || got.TokenHash != "" {
			t.Errorf("registered gateway = %+v", got)
		}
		if err := s.UpdateGatewayStatus(ctx, g.ID, now, 7, []byte(`{"peers":2}`)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Gateway(ctx, g.ID)
		if got.BundleVersion != 7 || string(got.Status) != `{"peers":2}` {
			t.Errorf("status = %+v", got)
		}
		expired := &store.Gateway{Name: "edge-2", TokenHash: "old", TokenExpires: now.Add(-time.Minute)}
		s.CreateGateway(ctx, expired)
		if _, err := s.RegisterGateway(ctx, "old", "s", now); !errors.Is(err, store.ErrTokenUsed) {
			t.Errorf("expired token: %v", err)
		}
		if err := s.RevokeGateway(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Gateway(ctx, g.ID); !got.Revoked {
			t.Error("not revoked")
		}
	})
}

func TestAuditChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		var batch []store.AuditEvent
		for i := range 1000 {
			batch = append(batch, store.AuditEvent{
				Time: time.Unix(1700000000+int64(i), 0), Actor: fmt.Sprintf("user%d@example.com", i%7), Action: "decision",
				Resource: fmt.Sprintf("res-%d", i%3), Effect: []string{"allow", "deny"}[i%2], EventID: fmt.Sprintf("ev-%d", i),
				Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)),
			})
		}
		added, dups, err := s.AppendAudit(ctx, batch)
		if err != nil || added != 1000 || dups != 0 {
			t.Fatalf("AppendAudit = %d, %d, %v", added, dups, err)
		}
		// A whole batch again (the COPY path on PostgreSQL): all duplicates.
		if added, dups, err := s.AppendAudit(ctx, batch); err != nil || added != 0 || dups != 1000 {
			t.Fatalf("batch re-append = %d added, %d duplicates, %v", added, dups, err)
		}
		// The same events again plus one new: only the new one is stored.
		again := append([]store.AuditEvent(nil), batch[:10]...)
		again = append(again, store.AuditEvent{Actor: "system", Action: "login", EventID: "ev-new"}, store.AuditEvent{Actor: "system", Action: "login", EventID: "ev-new"})
		added, dups, err = s.AppendAudit(ctx, again)
		if err != nil || added != 1 || dups != 11 {
			t.Fatalf("re-append = %d added, %d duplicates, %v; want 1, 11", added, dups, err)
		}
		if n, _ := s.CountAudit(ctx); n != 1001 {
			t.Errorf("CountAudit = %d", n)
		}
		rep, err := s.VerifyAudit(ctx)
		if err != nil || !rep.OK || rep.Entries != 1001 {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
		page, _ := s.ListAudit(ctx, store.AuditFilter{Actor: "user3@example.com", Effect: "deny", Limit: 10})
		if len(page) != 10 {
			t.Fatalf("filtered page = %d", len(page))
		}
		for i, e := range page {
			if e.Actor != "user3@example.com" || e.Effect != "deny" || (i > 0 && e.Seq >= page[i-1].Seq) {
				t.Errorf("entry %d = %+v", i, e)
			}
		}
		next, _ := s.ListAudit(ctx, store.AuditFilter{Actor: "user3@example.com", Effect: "deny", Limit: 10, Before: page[9].Seq})
		if len(next) == 0 || next[0].Seq >= page[9].Seq {
			t.Errorf("cursor page starts at %+v", next)
		}
		if found, _ := s.ListAudit(ctx, store.AuditFilter{Query: `512`}); len(found) != 1 || found[0].EventID != "ev-512" {
			t.Errorf("full-text search = %+v", found)
		}
		since, _ := s.ListAudit(ctx, store.AuditFilter{Since: time.Unix(1700000990, 0), Until: time.Unix(1700000995, 0)})
		if len(since) != 5 {
			t.Errorf("time window = %d entries", len(since))
		}

		// Tamper with one entry behind the store's back: verify names it.
		if _, err := s.SQL().ExecContext(ctx, `UPDATE audit SET effect = 'allow' WHERE seq = 500`); err != nil {
			t.Fatal(err)
		}
		rep, _ = s.VerifyAudit(ctx)
		if rep.OK || rep.BrokenAt != 500 {
			t.Errorf("after tampering verify = %+v, want broken at 500", rep)
		}
		s.SQL().ExecContext(ctx, `UPDATE audit SET effect = 'deny' WHERE seq = 500`)
		if rep, _ = s.VerifyAudit(ctx); !rep.OK {
			t.Errorf("after undoing: %+v", rep)
		}
		// Truncation: the head no longer matches.
		s.SQL().ExecContext(ctx, `DELETE FROM audit WHERE seq = 1001`)
		if rep, _ = s.VerifyAudit(ctx); rep.OK {
			t.Error("truncated log verified")
		}
	})
}

func TestAuditConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					if _, _, err := s.AppendAudit(ctx, []store.AuditEvent{{Actor: "w", Action: "x", EventID: fmt.Sprintf("%d-%d", w, i)}}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		rep, err := s.VerifyAudit(ctx)
		if err != nil || !rep.OK || rep.Entries != 80 {
			t.Errorf("verify after concurrent appends = %+v, %v", rep, err)
		}
	})
}

func TestAlertsKeysSettingsSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		for i := range 3 {
			if err := s.CreateAlert(ctx, &store.Alert{Time: time.Unix(int64(1000+i), 0), Severity: "high", Kind: "impossible_travel", Subject: "ada", Message: fmt.Sprintf("alert %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		as, _ := s.ListAlerts(ctx, "open", store.ListOptions{Limit: 2})
		if len(as) != 2 || as[0].Message != "alert 2" {
			t.Fatalf("alerts = %+v", as)
		}
		rest, _ := s.ListAlerts(ctx, "", store.ListOptions{After: as[1].ID})
		if len(rest) != 1 || rest[0].Message != "alert 0" {
			t.Errorf("next page = %+v", rest)
		}
		if err := s.SetAlertState(ctx, as[0].ID, "resolved"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAlertState(ctx, as[0].ID, "gone"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad state: %v", err)
		}
		if open, _ := s.ListAlerts(ctx, "open", store.ListOptions{}); len(open) != 2 {
			t.Errorf("open alerts = %d", len(open))
		}

		if err := s.CreateAPIKey(ctx, &store.APIKey{Name: "ci", Role: store.RoleViewer, Hash: "h"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("key without expiry: %v", err)
		}
		exp := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
		k := &store.APIKey{Name: "ci", Role: store.RoleViewer, Hash: "h", Owner: "u_owner", Expires: exp}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		s.TouchAPIKey(ctx, k.ID, now)
		s.RevokeAPIKey(ctx, k.ID)
		got, _ := s.APIKey(ctx, k.ID)
		if !got.Revoked || !got.LastUsed.Equal(now) || got.Role != store.RoleViewer || got.Owner != "u_owner" || !got.Expires.Equal(exp) {
			t.Errorf("key = %+v", got)
		}

		if _, err := s.Setting(ctx, "theme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing setting: %v", err)
		}
		s.SetSetting(ctx, "theme", "dark")
		s.SetSetting(ctx, "theme", "light")
		if v, _ := s.Setting(ctx, "theme"); v != "light" {
			t.Errorf("setting = %q", v)
		}

		se := &store.Session{ID: "sid", UserID: "u1", CSRFHash: "c", Created: now, LastSeen: now, MFA: true}
		if err := s.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
		s.TouchSession(ctx, "sid", now.Add(time.Minute))
		gs, _ := s.Session(ctx, "sid")
		if !gs.MFA || !gs.LastSeen.Equal(now.Add(time.Minute)) {
			t.Errorf("session = %+v", gs)
		}
		s.DeleteUserSessions(ctx, "u1")
		if _, err := s.Session(ctx, "sid"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		s, err := store.Open(ctx, dir+"/c.db")
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := s.SchemaVersion(ctx); v < 1 {
			t.Errorf("schema version %d", v)
		}
		s.Close()
	}
}
