package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// BenchmarkInsightPages measures the analytics, alert, groups and USB
// pages and their API routes over the same data as BenchmarkAPIList
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
			key := e.keys[store.RoleAdmin]
			for _, ep := range []struct{ name, path string }{
				{"api-risk", "/api/v1/analytics/risk"},
				{"api-detectors", "/api/v1/analytics/detectors"},
				{"api-attachments", "/api/v1/attachments"},
				{"page-analytics", "/analytics"},
				{"page-alert", "/alerts/" + alertID},
				{"page-groups", "/groups"},
				{"page-attachments", "/attachments"},
			} {
				b.Run(ep.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, 1024)
					for b.Loop() {
						req := httptest.NewRequest("GET", ep.path, nil)
						req.Header.Set("Authorization", "Bearer "+key)
						w := httptest.NewRecorder()
						t0 := time.Now()
						e.srv.ServeHTTP(w, req)
						lat = append(lat, time.Since(t0))
						if w.Code != 200 {
							b.Fatalf("%s: %d %s", ep.path, w.Code, w.Body.String())
						}
					}
					reportPercentiles(b, lat)
				})
			}
		})
	}
}
