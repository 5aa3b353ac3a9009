package domain

import (
	"context"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

func TestDeviceResourcesReplayDecisionsAndFlows(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	st := storetest.SQLite(t)
	s, err := New(st, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []Resource{{Name: "yubikey", Kind: "usb"}, {Name: "wiki.corp", Kind: "tcp", Address: "10.0.0.1:22"}} {
		if _, err := s.PutResource(ctx, olga, r); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(id string, at time.Duration, actor, action, effect, detail string) store.AuditEvent {
		return store.AuditEvent{EventID: id, Time: now.Add(at), Actor: actor, Action: action, Resource: "yubikey", Effect: effect, Gateway: "g1", Detail: []byte(detail)}
	}
	if _, _, err := st.AppendAudit(ctx, []store.AuditEvent{
		ev("1", -time.Minute, "ada", "decision", "allow", `{"device":"d1","message":"bus 1-2"}`),
		ev("2", -50*time.Second, "bob", "decision", "allow", `{"device":"d2"}`),
		ev("3", -40*time.Second, "bob", "flow", "", `{"device":"d2"}`),
		ev("4", -8*24*time.Hour, "old", "decision", "allow", `{}`),
	}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.DeviceResources(ctx, olga)
	if err != nil || len(ds) != 1 || ds[0].Resource.Name != "yubikey" {
		t.Fatalf("device resources = %+v, %v", ds, err)
	}
	if as := ds[0].Attachments; len(as) != 1 || as[0].Subject != "ada" || as[0].Device != "d1" || as[0].Detail != "bus 1-2" || !ds[0].LastUse.Equal(now.Add(-40*time.Second)) {
		t.Errorf("yubikey = %+v", ds[0])
	}
	// A later flow of ada's closes hers; the cache reads only it.
	if _, _, err := st.AppendAudit(ctx, []store.AuditEvent{ev("5", -time.Second, "ada", "flow", "", `{"device":"d1"}`)}); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.DeviceResources(ctx, olga); err != nil || len(ds[0].Attachments) != 0 {
		t.Errorf("after ada's flow = %+v, %v", ds, err)
	}
}
