package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// BenchmarkInsightPages measures the analytics, alert, groups, USB and
// dashboard pages, the list pages and routes BenchmarkAPIList leaves
// out, and their API routes, over the same data as BenchmarkAPIList
// (1,000,000 audit entries, GONAUT_BENCH_AUDIT) plus 2,000 alerts over
// the last two days, on both stores, and reports median and 95th
// percentile latency.
//
//	go test -run '^$' -bench BenchmarkInsightPages -benchtime 100x ./apps/console/internal/server/
func BenchmarkInsightPages(b *testing.B) {
	n, d := benchSize("GONAUT_BENCH_AUDIT", 1_000_000), benchSize("GONAUT_BENCH_DEVICES", 10_000)
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var st *store.DB
			if backend == "sqlite" {
				st = storetest.SQLite(b)
			} else {
				st = storetest.Postgres(b)
			}
			loadBench(b, st, n, d)
			ctx := context.Background()
			kinds := []string{"impossible_travel", "new_device", "unusual_hour", "denial_burst", "exfiltration"}
			sev := []string{"low", "medium", "high", "critical"}
			var alertID string
			for i := range 2000 {
				a := store.Alert{Time: time.Now().Add(-time.Duration(i) * 86 * time.Second), Severity: sev[i%4], Kind: kinds[i%5],
					Subject: fmt.Sprintf("user%03d@example.com", i%500), Message: "bench", Evidence: json.RawMessage(`{"n":1}`)}
				if err := st.CreateAlert(ctx, &a); err != nil {
					b.Fatal(err)
				}
				alertID = a.ID
			}
			for _, r := range []store.Resource{{Name: "res-001", Kind: "usb"}, {Name: "res-002", Kind: "serial"}} {
				st.PutResource(ctx, &r)
			}
			e := newEnv(b, st)
			key := e.keys[domain.RoleAdmin]
			unlimitedAPI(b, st)
			for _, ep := range []struct {
				name, path string
				// cold empties the dashboard summary's cache before
				// each request, so that it is read every time.
				cold bool
			}{
				{"api-risk", "/api/v1/analytics/risk", false},
				{"api-detectors", "/api/v1/analytics/detectors", false},
				{"api-attachments", "/api/v1/attachments", false},
				{"page-analytics", "/analytics", false},
				{"page-alert", "/alerts/" + alertID, false},
				{"page-groups", "/groups", false},
				{"page-attachments", "/attachments", false},
				{"api-summary", "/api/v1/analytics/summary", true},
				{"page-dashboard", "/", true},
				{"api-alerts", "/api/v1/alerts?limit=50", false},
				{"page-alerts", "/alerts", false},
				{"page-audit", "/audit", false},
				{"api-users", "/api/v1/users", false},
				{"api-resources", "/api/v1/resources", false},
				{"api-policies", "/api/v1/policies", false},
				{"api-gateways", "/api/v1/gateways", false},
				{"api-apikeys", "/api/v1/apikeys", false},
				{"pages-users-resources-policies-gateways", "", false},
			} {
				b.Run(ep.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, 1024)
					paths := []string{ep.path}
					if ep.path == "" {
						paths = []string{"/users", "/resources", "/policies", "/gateways"}
					}
					for i := 0; b.Loop(); i++ {
						if ep.cold {
							e.srv.plat.Default().ForgetSummary()
						}
						path := paths[i%len(paths)]
						req := httptest.NewRequest("GET", path, nil)
						req.Header.Set("Authorization", "Bearer "+key)
						w := httptest.NewRecorder()
						t0 := time.Now()
						e.srv.ServeHTTP(w, req)
						lat = append(lat, time.Since(t0))
						if w.Code != 200 {
							b.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
						}
					}
					reportPercentiles(b, lat)
				})
			}
		})
	}
}
