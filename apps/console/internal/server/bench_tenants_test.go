package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// BenchmarkTenantAPIList measures the list endpoints of a console
// serving GONAUT_BENCH_TENANTS tenants (default 100) holding
// GONAUT_BENCH_AUDIT audit entries (default 1,000,000) and
// GONAUT_BENCH_DEVICES devices (default 10,000) between them, called as
// the admins of the tenants in turn, beside the reference measured in
// the same run: a single-tenant console holding what one of those
// tenants holds. It reports each one's p50 and p95 and the ratio of the
// p95s (p95-ratio), on both stores.
//
//	go test -run '^$' -bench BenchmarkTenantAPIList -benchtime 400x -timeout 60m ./apps/console/internal/server/
func BenchmarkTenantAPIList(b *testing.B) {
	tenants := benchSize("GONAUT_BENCH_TENANTS", 100)
	n := benchSize("GONAUT_BENCH_AUDIT", 1_000_000) / tenants
	d := benchSize("GONAUT_BENCH_DEVICES", 10_000) / tenants
	ctx := context.Background()
	endpoints := []struct{ name, path string }{
		{"audit-first-page", "/api/v1/audit?limit=50"},
		{"audit-deep-page", "/api/v1/audit?limit=50&cursor=" + strconv.Itoa(n/2)},
		{"audit-by-user", "/api/v1/audit?limit=50&actor=user042@example.com"},
		{"audit-by-resource-effect", "/api/v1/audit?limit=50&resource=res-007&effect=deny"},
		{"audit-search", "/api/v1/audit?limit=50&q=10.3.4"},
		{"devices-first-page", "/api/v1/devices?limit=50"},
		{"devices-by-owner", "/api/v1/devices?limit=50&owner=u_042"},
		{"devices-search", "/api/v1/devices?limit=50&q=dev-0004"},
		{"users", "/api/v1/users"},
		{"resources", "/api/v1/resources"},
		{"gateways", "/api/v1/gateways"},
		{"page-audit", "/audit?actor=user042@example.com"},
		{"page-devices", "/devices"},
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			open := storetest.SQLite
			if backend == "postgres" {
				open = storetest.Postgres
			}
			// The reference: one tenant's data in a console of its own.
			single := open(b)
			loadBench(b, single, n, d)
			se := newEnv(b, single)
			unlimitedAPI(b, single)
			singleKeys := []string{se.keys[domain.RoleAdmin]}

			// The platform: as many tenants, each holding as much.
			root := open(b)
			me := newEnv(b, root)
			start := time.Now()
			var multiKeys []string
			for i := range tenants {
				id := fmt.Sprintf("t%03d", i)
				if _, err := me.srv.plat.CreateTenant(ctx, domain.Actor{ID: "bench", Role: domain.RoleAdmin}, domain.NewTenant{ID: id, Name: id}); err != nil {
					b.Fatal(err)
				}
				st, err := root.Tenant(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				loadBench(b, st, n, d)
				unlimitedAPI(b, st)
				dom, err := me.srv.plat.Service(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				_, key, err := dom.CreateToolKey(ctx, "bench", domain.RoleAdmin)
				if err != nil {
					b.Fatal(err)
				}
				multiKeys = append(multiKeys, key)
			}
			b.Logf("%s: %d tenants of %d entries and %d devices loaded in %v", backend, tenants, n, d, time.Since(start).Round(time.Second))

			for _, ep := range endpoints {
				b.Run(ep.name, func(b *testing.B) {
					lat := map[string][]time.Duration{}
					i := 0
					for b.Loop() {
						// Alternate the reference and the platform, so that
						// both see the same moments of a noisy machine.
						for _, c := range []struct {
							name string
							e    *env
							keys []string
						}{{"single", se, singleKeys}, {"tenants", me, multiKeys}} {
							req := httptest.NewRequest("GET", ep.path, nil)
							req.Header.Set("Authorization", "Bearer "+c.keys[i%len(c.keys)])
							w := httptest.NewRecorder()
							t0 := time.Now()
							c.e.srv.ServeHTTP(w, req)
							lat[c.name] = append(lat[c.name], time.Since(t0))
							if w.Code != 200 {
								b.Fatalf("%s %s: %d %s", c.name, ep.path, w.Code, w.Body.String())
							}
						}
						i++
					}
					ps := percentile(lat["single"], 0.95)
					pm := percentile(lat["tenants"], 0.95)
					b.ReportMetric(msOf(percentile(lat["single"], 0.50)), "single-p50-ms")
					b.ReportMetric(msOf(ps), "single-p95-ms")
					b.ReportMetric(msOf(percentile(lat["tenants"], 0.50)), "tenants-p50-ms")
					b.ReportMetric(msOf(pm), "tenants-p95-ms")
					if ps > 0 {
						b.ReportMetric(float64(pm)/float64(ps), "p95-ratio")
					}
				})
			}
		})
	}
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile is the q-th percentile of lat (sorted in place).
func percentile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(q*float64(len(lat))))]
}
