package store_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// TestDisplayNamesAndNameIDs translates both ways between the ids
// events carry and the names people use, in one batch, on both
// backends; and filters the audit log by several actors or gateways.
func TestDisplayNamesAndNameIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.DB) {
		u := &store.User{Email: "Ann@Example.com", Name: "Ann", Role: store.RoleViewer, PasswordHash: "h"}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		d := &store.Device{Name: "ann-laptop", Owner: u.ID, PublicKey: "pk-ann", Address: "100.64.0.9/32"}
		if err := s.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		g := &store.Gateway{Name: "edge-north", TokenHash: "tok-n", TokenExpires: time.Now().Add(time.Hour)}
		if err := s.CreateGateway(ctx, g); err != nil {
			t.Fatal(err)
		}
		k := &store.APIKey{Name: "ci-bot", Role: store.RoleOperator, Hash: "kh", Expires: time.Now().Add(time.Hour)}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		ids := []string{u.ID, d.ID, g.ID, "u_unknown", "", u.ID, "gateway:edge-north", "apikey:" + k.ID, "apikey:none", k.ID}
		// Past one batch, so that the split is exercised too.
		for i := range 600 {
			ids = append(ids, fmt.Sprintf("d_none%d", i))
		}
		got, err := s.DisplayNames(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{u.ID: "ann@example.com", d.ID: "ann-laptop", g.ID: "edge-north", "apikey:" + k.ID: "apikey:ci-bot"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DisplayNames = %v, want %v", got, want)
		}
		for name, want := range map[string][]string{"ANN@example.com": {u.ID}, "ann-laptop": {d.ID}, "edge-north": {g.ID}, "apikey:ci-bot": {"apikey:" + k.ID}, "ci-bot": nil, "nobody": nil, "": nil} {
			got, err := s.NameIDs(ctx, name)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("NameIDs(%q) = %v, %v; want %v", name, got, err, want)
			}
		}

		now := time.Now().UTC()
		var evs []store.AuditEvent
		for i, a := range []struct{ actor, gw string }{{u.ID, g.ID}, {"ann@example.com", ""}, {"u_other", g.ID}, {u.ID, "g_other"}} {
			evs = append(evs, store.AuditEvent{Time: now, Actor: a.actor, Action: "decision", Resource: "wiki", Gateway: a.gw, EventID: fmt.Sprintf("names-%d", i)})
		}
		if _, _, err := s.AppendAudit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		count := func(f store.AuditFilter) int {
			t.Helper()
			es, err := s.ListAudit(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return len(es)
		}
		for _, c := range []struct {
			f    store.AuditFilter
			want int
		}{
			{store.AuditFilter{Actor: "ann@example.com"}, 1},
			{store.AuditFilter{Actor: "ann@example.com", Actors: []string{u.ID}}, 3},
			{store.AuditFilter{Actor: "ann@example.com", Actors: []string{u.ID, u.ID, ""}, Gateway: g.ID}, 1},
			{store.AuditFilter{Gateway: "edge-north", Gateways: []string{g.ID}}, 2},
			{store.AuditFilter{Gateway: "edge-south"}, 0},
			{store.AuditFilter{Actor: "ann@example.com", Actors: []string{u.ID}, Query: "wiki"}, 3},
		} {
			if got := count(c.f); got != c.want {
				t.Errorf("ListAudit(%+v): %d entries, want %d", c.f, got, c.want)
			}
		}
	})
}
