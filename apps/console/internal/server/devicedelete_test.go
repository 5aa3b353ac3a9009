package server

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// TestDeleteDeviceDropsItsPeer enrols two devices, registers a gateway
// over the real control plane, deletes one device over the REST API and
// the other on the page: each deletion is audited, answers 404 the second
// time, and the gateway's next bundle no longer has the peer.
func TestDeleteDeviceDropsItsPeer(t *testing.T) {
	e, base := listeningConsole(t, nil)

	var created gatewayCreated
	e.mustCall(domain.RoleOperator, "POST", "/api/v1/gateways", gatewayRequest{Name: "edge-1"}, 201, &created)
	u := addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleViewer)
	var laptop, phone Enrolment
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "laptop", Owner: u.ID}, 201, &laptop)
	e.mustCall(domain.RoleAdmin, "POST", "/api/v1/devices", enrolRequest{Name: "phone", Owner: u.ID}, 201, &phone)

	cl, err := controlplane.New(base, &controlplane.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Register(ctx, created.Token, "edge-1"); err != nil {
		t.Fatal(err)
	}
	b, err := cl.Bundle(ctx, 0, 0)
	if err != nil || len(b.Devices) != 2 {
		t.Fatalf("bundle before: %+v, %v", b, err)
	}

	e.mustCall(domain.RoleViewer, "DELETE", "/api/v1/devices/"+laptop.Device.ID, nil, 403, nil)
	e.mustCall(domain.RoleOperator, "DELETE", "/api/v1/devices/"+laptop.Device.ID, nil, 204, nil)
	e.mustCall(domain.RoleOperator, "DELETE", "/api/v1/devices/"+laptop.Device.ID, nil, 404, nil)
	nb, err := cl.Bundle(ctx, b.Version, 10*time.Second)
	if err != nil || nb == nil || len(nb.Devices) != 1 || nb.Devices[0].PublicKey != phone.Device.PublicKey {
		t.Fatalf("bundle after the API delete: %+v, %v", nb, err)
	}

	resp := e.form(domain.RoleAdmin, "/devices/"+url.PathEscape(phone.Device.ID)+"/delete", url.Values{})
	io.Copy(io.Discard, resp.Body)
	if f := e.formFlash(resp, domain.RoleAdmin); f.kind != flashInfo || !strings.Contains(f.text, "Deleted device phone") {
		t.Errorf("page delete: %+v", f)
	}
	if nb, err = cl.Bundle(ctx, nb.Version, 10*time.Second); err != nil || nb == nil || len(nb.Devices) != 0 {
		t.Fatalf("bundle after the page delete: %+v, %v", nb, err)
	}

	es, err := e.st.ListAudit(bg, store.AuditFilter{Action: "device.delete"})
	if err != nil || len(es) != 2 || es[1].Resource != "laptop" || es[1].Actor != e.keyActor(domain.RoleOperator) || es[0].Resource != "phone" {
		t.Errorf("audit of the deletions: %+v, %v", es, err)
	}
}
