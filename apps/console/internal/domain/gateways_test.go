package domain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

func TestGatewayLifecycle(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	op := Actor{ID: "apikey:k1", Role: RoleOperator}

	_, _, err := f.svc.CreateGateway(ctx, op, NewGateway{Name: ""})
	wantInvalid(t, err, "name")
	g, tok, err := f.svc.CreateGateway(ctx, op, NewGateway{Name: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if _, _, err := f.svc.CreateGateway(ctx, op, NewGateway{Name: "edge"}); !errors.As(err, &ce) || ce.Field != "name" {
		t.Fatalf("second gateway named edge: %v", err)
	}
	if ev := f.audited(t, "gateway.create", 1)[0]; ev.Actor != op.ID || ev.Resource != "edge" || ev.Detail != nil {
		t.Fatalf("create entry %+v", ev)
	}
	if g.TokenExpires.Sub(g.Created) > defaultTokenTTL+time.Second || g.TokenExpires.IsZero() {
		t.Fatalf("token expiry %v", g.TokenExpires)
	}

	var ue *UnauthorizedError
	if _, _, err := f.svc.RegisterGateway(ctx, Registration{Token: "gwt_wrong"}); !errors.As(err, &ue) {
		t.Fatalf("registration with a wrong token: %v", err)
	}
	reg, secret, err := f.svc.RegisterGateway(ctx, Registration{Token: tok, Name: "reported", Version: "v1"})
	if err != nil || reg.ID != g.ID {
		t.Fatalf("registration: %+v %v", reg, err)
	}
	if ev := f.audited(t, "gateway.register", 1)[0]; ev.Actor != "gateway:edge" || string(ev.Detail) != `{"reported_name":"reported","version":"v1"}` {
		t.Fatalf("register entry %+v %s", ev, ev.Detail)
	}
	if _, _, err := f.svc.RegisterGateway(ctx, Registration{Token: tok}); !errors.As(err, &ue) {
		t.Fatalf("the token worked twice: %v", err)
	}
	if _, err := f.svc.AuthenticateGateway(ctx, g.ID, secret+"x"); !errors.As(err, &ue) {
		t.Fatalf("a wrong secret: %v", err)
	}
	if got, err := f.svc.AuthenticateGateway(ctx, g.ID, secret); err != nil || got.Name != "edge" {
		t.Fatalf("the right secret: %+v %v", got, err)
	}

	// A status report naming a subject outside the bundle is refused
	// and leaves no status behind.
	err = f.svc.ReportStatus(ctx, g, controlplane.Status{Risk: []controlplane.SubjectRisk{{Subject: "u_nobody", Score: 50}}}, 0)
	wantInvalid(t, err, "")
	if st, name := f.svc.GatewayReport(ctx); name != "" || st.PublicKey != "" {
		t.Fatalf("a refused report was kept: %s %+v", name, st)
	}
	good := controlplane.Status{PublicKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", Risk: []controlplane.SubjectRisk{{Subject: f.ada.ID, Score: 50}}}
	if err := f.svc.ReportStatus(ctx, g, good, 0); err != nil {
		t.Fatal(err)
	}
	if st, name := f.svc.GatewayReport(ctx); name != "edge" || st.PublicKey != good.PublicKey {
		t.Fatalf("report: %s %+v", name, st)
	}

	if err := f.svc.RevokeGateway(ctx, op, "g_missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking a missing gateway: %v", err)
	}
	if err := f.svc.RevokeGateway(ctx, op, g.ID); err != nil {
		t.Fatal(err)
	}
	f.audited(t, "gateway.revoke", 1)
	if _, err := f.svc.AuthenticateGateway(ctx, g.ID, secret); !errors.As(err, &ue) {
		t.Fatalf("a revoked gateway authenticated: %v", err)
	}
}

func TestGatewayEventsRefusedAlone(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	g := Gateway{ID: "g_1", Name: "edge"}
	evs := []controlplane.Event{
		{ID: "1", Kind: controlplane.KindDecision, Effect: "allow", Subject: f.ada.ID, Time: f.svc.now()},
		{ID: "2", Kind: "policy.save", Subject: f.ada.ID},
		{ID: "3", Kind: controlplane.KindDecision, Subject: "u_nobody"},
	}
	ack, lives, err := f.svc.GatewayEvents(ctx, g, evs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Accepted != 1 || len(ack.Rejected) != 2 || len(lives) != 1 || lives[0].Gateway != g.ID {
		t.Fatalf("ack %+v lives %+v", ack, lives)
	}
	f.audited(t, "gateway.events_refused", 1)
	// Sent again, the accepted event is a duplicate and nothing is new.
	ack, lives, err = f.svc.GatewayEvents(ctx, g, evs[:1], 0)
	if err != nil || ack.Accepted != 0 || ack.Duplicates != 1 || lives != nil {
		t.Fatalf("redelivery: %+v %+v %v", ack, lives, err)
	}
}
