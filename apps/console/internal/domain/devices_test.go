package domain

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// deviceFixture is a Service over a fresh SQLite store with two users,
// ada and bob, for the tests of the devices, gateways and settings
// operations.
type deviceFixture struct {
	svc      *Service
	st       store.Store
	ada, bob *store.User
}

func newDeviceFixture(t *testing.T) *deviceFixture {
	t.Helper()
	st := storetest.SQLite(t)
	svc, err := New(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &deviceFixture{svc: svc, st: st,
		ada: &store.User{Email: "ada@example.com", Role: RoleViewer},
		bob: &store.User{Email: "bob@example.com", Role: RoleViewer}}
	for _, u := range []*store.User{f.ada, f.bob} {
		if err := st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// as is u acting herself from a session.
func as(u *store.User, role Role, mfa bool) Actor {
	return Actor{ID: u.ID, UserID: u.ID, Role: role, MFA: mfa}
}

// audited returns the audit entries of action, failing unless there are
// exactly n.
func (f *deviceFixture) audited(t *testing.T, action string, n int) []store.AuditEvent {
	t.Helper()
	evs, err := f.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("%d %s entries, want %d: %+v", len(evs), action, n, evs)
	}
	return evs
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("err = %v, want invalid %q", err, field)
	}
}

func TestEnrolDevice(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	admin := Actor{ID: "apikey:k1", Role: RoleAdmin}

	_, err := f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: f.ada.Email, Name: " laptop"})
	wantInvalid(t, err, "name")
	_, err = f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: f.ada.Email, Name: "laptop", Posture: json.RawMessage(`[1]`)})
	wantInvalid(t, err, "posture")
	_, err = f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: "nobody@example.com", Name: "laptop"})
	wantInvalid(t, err, "")
	_, err = f.svc.EnrolDevice(ctx, admin, NewDevice{Name: "laptop"})
	wantInvalid(t, err, "") // an API key has no self to own it
	// An operator enrols only for herself.
	if _, err := f.svc.EnrolDevice(ctx, as(f.ada, RoleOperator, false), NewDevice{Owner: f.bob.ID, Name: "x"}); !errors.Is(err, ErrForbidden) || err.Error() != ErrEnrolForOther.Error() {
		t.Fatalf("operator enrolling for another: %v", err)
	}
	f.audited(t, "device.enrol", 0)

	e, err := f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: f.ada.Email, Name: "laptop", Posture: json.RawMessage(`{"os":"linux"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e.Device.Owner != f.ada.ID || e.PrivateKey == "" || e.Device.PostureSource != PosturePerson || !e.Device.MFATime.IsZero() {
		t.Fatalf("enrolment %+v", e)
	}
	ev := f.audited(t, "device.enrol", 1)[0]
	var d map[string]string
	json.Unmarshal(ev.Detail, &d)
	if ev.Actor != admin.ID || ev.Resource != "laptop" || d["device"] != e.Device.ID || d["owner"] != f.ada.ID || d["public_key"] != e.Device.PublicKey {
		t.Fatalf("audit entry %+v %s", ev, ev.Detail)
	}
	// The same key again is a conflict naming the field.
	_, err = f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: f.bob.ID, Name: "copy", PublicKey: e.Device.PublicKey})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Field != "public_key" {
		t.Fatalf("duplicate key: %v", err)
	}
}

func TestEnrolOwnDeviceQuotaAndMFA(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetSetting(ctx, Actor{ID: "system", Role: RoleAdmin}, SettingDeviceQuota, "1"); err != nil {
		t.Fatal(err)
	}
	ada := as(f.ada, RoleViewer, true)
	e, err := f.svc.EnrolOwnDevice(ctx, ada, NewDevice{Name: "phone", Owner: f.bob.ID, Posture: json.RawMessage(`{"os":"ios"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e.Device.Owner != f.ada.ID || e.Device.MFATime.IsZero() || e.Device.Posture != nil {
		t.Fatalf("own enrolment %+v", e.Device)
	}
	var ce *ConflictError
	if _, err := f.svc.EnrolOwnDevice(ctx, ada, NewDevice{Name: "tablet"}); !errors.As(err, &ce) || ce.Code != "quota" {
		t.Fatalf("past the quota: %v", err)
	}
	if _, err := f.svc.EnrolOwnDevice(ctx, Actor{ID: "apikey:k", UserID: f.ada.ID, Role: RoleViewer}, NewDevice{Name: "x"}); err == nil {
		t.Fatal("an API key enrolled a device of its own")
	}
}

func TestDeviceScopeAndRenewal(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	admin := Actor{ID: "system", Role: RoleAdmin}
	e, err := f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: f.ada.ID, Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	id := e.Device.ID
	bob := as(f.bob, RoleViewer, true)
	if _, err := f.svc.Device(ctx, bob, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob read ada's device: %v", err)
	}
	if ds, _ := f.svc.ListDevices(ctx, bob, f.ada.ID, ListOptions{}); len(ds) != 0 {
		t.Fatalf("bob listed ada's devices: %+v", ds)
	}
	if ds, _ := f.svc.ListDevices(ctx, Actor{ID: "apikey:k", UserID: f.ada.ID, Role: RoleViewer}, "", ListOptions{}); ds != nil {
		t.Fatalf("an API key listed its owner's devices: %+v", ds)
	}
	if ds, _ := f.svc.ListDevices(ctx, as(f.ada, RoleViewer, false), "", ListOptions{}); len(ds) != 1 {
		t.Fatalf("ada's own devices: %+v", ds)
	}
	if _, err := f.svc.RenewOwnDevice(ctx, as(f.ada, RoleViewer, false), id); !errors.Is(err, ErrRenewNeedsMFA) {
		t.Fatalf("renewal without MFA: %v", err)
	}
	if _, err := f.svc.RenewOwnDevice(ctx, bob, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob renewed ada's device: %v", err)
	}
	d, err := f.svc.RenewOwnDevice(ctx, as(f.ada, RoleViewer, true), id)
	if err != nil || d.MFATime.IsZero() || !d.SessionExpires.After(time.Now().Add(11*time.Hour)) {
		t.Fatalf("renewal: %+v %v", d, err)
	}
	f.audited(t, "device.renew", 1)
}

func TestUpdateAndDeleteDevice(t *testing.T) {
	f := newDeviceFixture(t)
	ctx := context.Background()
	admin := Actor{ID: "system", Role: RoleAdmin}
	if _, err := f.svc.UpdateDevice(ctx, admin, "d_missing", DevicePatch{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing device: %v", err)
	}
	if _, err := f.svc.DeleteDevice(ctx, admin, "d_missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of a missing device: %v", err)
	}
	e, err := f.svc.EnrolDevice(ctx, admin, NewDevice{Owner: f.ada.ID, Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	bad := "bad\nname"
	_, err = f.svc.UpdateDevice(ctx, admin, e.Device.ID, DevicePatch{Name: &bad})
	wantInvalid(t, err, "name")
	off := true
	d, err := f.svc.UpdateDevice(ctx, admin, e.Device.ID, DevicePatch{Disabled: &off})
	if err != nil || !d.Disabled {
		t.Fatalf("disable: %+v %v", d, err)
	}
	ev := f.audited(t, "device.update", 1)[0]
	if string(ev.Detail) != `{"change":{"name":null,"disabled":true,"posture":null,"renew_session":false},"device":"`+d.ID+`"}` {
		t.Fatalf("update detail %s", ev.Detail)
	}
	if _, err := f.svc.DeleteDevice(ctx, admin, d.ID); err != nil {
		t.Fatal(err)
	}
	f.audited(t, "device.delete", 1)
}
