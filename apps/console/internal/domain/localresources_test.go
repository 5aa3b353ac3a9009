package domain

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/ztna/controlplane"
)

// FuzzValidateStatus feeds the status check arbitrary reports: it never
// panics, and a report it accepts lists at most MaxLocalResources local
// resources, each with a DNS name, a known kind and a port.
func FuzzValidateStatus(f *testing.F) {
	for _, s := range []string{
		`{"healthy":true}`,
		`{"resources":[{"name":"plc.factory","kind":"tcp","port":502}]}`,
		`{"resources":[{"name":"serial-1.lab","kind":"serial"}]}`,
		`{"resources":[{"name":"evil corp<script>","kind":"tcp"}]}`,
		`{"resources":[{"name":"","kind":"usb"}]}`,
		`{"resources":[{"name":"a.corp","kind":"smb","port":-1}]}`,
		`{"resources":[{"name":"-a.corp","kind":"tcp","port":65536}]}`,
		`{"resources":null,"routes":["100.64.0.0/10"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st controlplane.Status
		if json.Unmarshal(data, &st) != nil {
			return
		}
		if validateStatus(&st) != nil {
			return
		}
		if len(st.Resources) > controlplane.MaxLocalResources {
			t.Fatalf("accepted %d local resources", len(st.Resources))
		}
		for _, r := range st.Resources {
			if dnsNameProblem(r.Name) != "" || !localResourceKinds[r.Kind] || r.Port < 0 || r.Port > 65535 {
				t.Fatalf("accepted local resource %+v", r)
			}
			if strings.ContainsAny(r.Name, "<>\"' \n") {
				t.Fatalf("accepted a name that is not a DNS name: %q", r.Name)
			}
		}
	})
}
