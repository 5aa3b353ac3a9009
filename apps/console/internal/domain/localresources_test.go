package domain

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// FuzzValidateLocalResources: what the check accepts is a DNS name of a
// known kind on a port in range.
func FuzzValidateLocalResources(f *testing.F) {
	f.Add("plc.factory", "tcp", 502)
	f.Add("evil corp<script>", "tcp", 0)
	f.Add("", "usb", 0)
	f.Add("a.corp", "smb", -1)
	f.Add("-a.corp", "tcp", 65536)
	f.Fuzz(func(t *testing.T, name, kind string, port int) {
		if ValidateLocalResources([]controlplane.LocalResource{{Name: name, Kind: kind, Port: port}}) != nil {
			return
		}
		if dnsNameProblem(name) != "" || !ValidResourceKind(kind) || port < 0 || port > 65535 {
			t.Fatalf("accepted %q %q %d", name, kind, port)
		}
	})
}

func TestLocalResources(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	for _, g := range []struct {
		name    string
		revoked bool
		status  controlplane.Status
	}{
		{"g1", false, controlplane.Status{Resources: []controlplane.LocalResource{{Name: "plc.factory", Kind: "tcp", Port: 502}, {Name: "cam.lab", Kind: "usb"}}}},
		{"g2", false, controlplane.Status{Resources: []controlplane.LocalResource{{Name: "bad name", Kind: "tcp"}}}},
		{"g3", true, controlplane.Status{Resources: []controlplane.LocalResource{{Name: "gone.lab", Kind: "tcp", Port: 1}}}},
	} {
		gw := &store.Gateway{Name: g.name, TokenHash: "hash-" + g.name, TokenExpires: time.Now().Add(time.Hour)}
		if err := st.CreateGateway(ctx, gw); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(g.status)
		if err := st.UpdateGatewayStatus(ctx, gw.ID, time.Now(), 0, raw); err != nil {
			t.Fatal(err)
		}
		if g.revoked {
			if err := st.RevokeGateway(ctx, gw.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	ls, err := s.LocalResources(ctx, olga, "")
	if err != nil || len(ls) != 2 || ls[0].Name != "plc.factory" || ls[0].GatewayName != "g1" || ls[1].Kind != "usb" {
		t.Fatalf("local resources = %+v, %v", ls, err)
	}
	if ls, _ := s.LocalResources(ctx, olga, "PLC"); len(ls) != 1 {
		t.Errorf("search PLC = %+v", ls)
	}
}
