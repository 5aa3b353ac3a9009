package domain

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// A tenant's quotas stop the creation past them with a clear error and
// nothing created; concurrent creations do not overshoot; a raised quota
// lets the next one through; the default tenant has none.
func TestTenantQuotas(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			root := storetest.SQLite(t)
			if backend == "postgres" {
				root = storetest.Postgres(t)
			}
			if err := root.CreateTenant(bg, &store.Tenant{ID: "acme", Name: "Acme", Quotas: store.Quotas{Devices: 1, Gateways: 3, Policies: 1}}); err != nil {
				t.Fatal(err)
			}
			st, err := root.Tenant(bg, "acme")
			if err != nil {
				t.Fatal(err)
			}
			svc, err := New(st, Options{})
			if err != nil {
				t.Fatal(err)
			}
			admin := Actor{ID: "apikey:k1", Role: RoleAdmin}
			ada := &store.User{Email: "ada@example.com", Role: RoleViewer}
			if err := st.CreateUser(bg, ada); err != nil {
				t.Fatal(err)
			}
			wantQuota := func(err error, field string) {
				t.Helper()
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.Code != "tenant_quota" || ce.Field != field || !strings.Contains(ce.Message, "quota") {
					t.Fatalf("want the %s quota's ConflictError, got %v", field, err)
				}
			}

			if _, err := svc.EnrolDevice(bg, admin, NewDevice{Owner: ada.Email, Name: "one"}); err != nil {
				t.Fatal(err)
			}
			_, err = svc.EnrolDevice(bg, admin, NewDevice{Owner: ada.Email, Name: "two"})
			wantQuota(err, "devices")
			if u, _ := st.Usage(bg); u.Devices != 1 {
				t.Errorf("devices after the refusal: %d", u.Devices)
			}

			// Ten gateways at once against a quota of three: three made.
			var wg sync.WaitGroup
			var mu sync.Mutex
			made, refused := 0, 0
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, err := svc.CreateGateway(bg, admin, NewGateway{Name: fmt.Sprintf("gw%d", i)})
					mu.Lock()
					defer mu.Unlock()
					var ce *ConflictError
					switch {
					case err == nil:
						made++
					case errors.As(err, &ce) && ce.Code == "tenant_quota":
						refused++
					default:
						t.Errorf("gateway %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			if made != 3 || refused != 7 {
				t.Errorf("made %d, refused %d; want 3 and 7", made, refused)
			}

			if _, err := svc.SavePolicy(bg, admin, PolicyChange{Name: "wiki", Source: wikiPolicy}); err != nil {
				t.Fatal(err)
			}
			// A new version of a policy is not a new policy.
			if _, err := svc.SavePolicy(bg, admin, PolicyChange{Name: "wiki", Source: wikiPolicy, Message: "again"}); err != nil {
				t.Errorf("second version refused: %v", err)
			}
			_, err = svc.SavePolicy(bg, admin, PolicyChange{Name: "other", Source: strings.ReplaceAll(wikiPolicy, "eng-wiki", "other-wiki")})
			wantQuota(err, "policies")

			tn, _ := root.TenantInfo(bg, "acme")
			tn.Quotas.Devices = 2
			if err := root.UpdateTenant(bg, tn); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.EnrolDevice(bg, admin, NewDevice{Owner: ada.Email, Name: "two"}); err != nil {
				t.Errorf("after raising the quota: %v", err)
			}

			// The default tenant has no quota.
			def, err := New(root, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if _, _, err := def.CreateGateway(bg, admin, NewGateway{Name: fmt.Sprintf("gw%d", i)}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
