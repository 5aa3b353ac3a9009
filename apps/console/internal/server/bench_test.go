package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// loadBench fills a store with n audit entries (decisions spread over 30
// days, 500 subjects, 200 resources, one in five denied) and d devices.
func loadBench(b *testing.B, st *store.DB, n, d int) {
	ctx := context.Background()
	start := time.Now()
	base := time.Now().Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(n)
	const batch = 10000
	evs := make([]store.AuditEvent, 0, batch)
	for i := range n {
		effect := "allow"
		if i%5 == 0 {
			effect = "deny"
		}
		evs = append(evs, store.AuditEvent{
			Time: base.Add(time.Duration(i) * step), Actor: fmt.Sprintf("user%03d@example.com", i%500), Action: "decision",
			Resource: fmt.Sprintf("res-%03d", i%200), Effect: effect, Gateway: "g_bench", EventID: "b" + strconv.Itoa(i),
			Detail: json.RawMessage(fmt.Sprintf(`{"rule":"r%d","source":"10.%d.%d.%d"}`, i%40, i%250, i/250%250, i%7)),
		})
		if len(evs) == batch || i == n-1 {
			if _, _, err := st.AppendAudit(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	devs := make([]store.Device, d)
	for i := range devs {
		devs[i] = store.Device{ID: fmt.Sprintf("d_%06d", i), Name: fmt.Sprintf("dev-%05d", i), Owner: fmt.Sprintf("u_%03d", i%500), PublicKey: fmt.Sprintf("key%06d", i), Address: "100.64.0.1/32", Created: base}
	}
	if err := st.BulkDevices(ctx, devs); err != nil {
		b.Fatal(err)
	}
	if st.Backend() == "postgres" {
		st.SQL().ExecContext(ctx, `ANALYZE`)
	} else {
		st.SQL().ExecContext(ctx, `ANALYZE`)
	}
	b.Logf("%s: loaded %d audit entries and %d devices in %v", st.Backend(), n, d, time.Since(start).Round(time.Millisecond))
}

// BenchmarkAPIList measures the REST list endpoints (and two pages) over
// 1,000,000 audit entries and 10,000 devices on both stores, through the
// whole handler (authentication by API key, query, JSON or HTML), and
// reports the median and 95th percentile latency. Sizes can be lowered
// with GONAUT_BENCH_AUDIT and GONAUT_BENCH_DEVICES.
//
//	go test -run '^$' -bench BenchmarkAPIList -benchtime 200x ./apps/console/internal/server/
func BenchmarkAPIList(b *testing.B) {
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
			e := newEnv(b, st)
			unlimitedAPI(b, st)
			key := e.keys[domain.RoleAdmin]
			mid := n / 2
			for _, ep := range []struct{ name, path string }{
				{"audit-first-page", "/api/v1/audit?limit=50"},
				{"audit-deep-page", "/api/v1/audit?limit=50&cursor=" + strconv.Itoa(mid)},
				{"audit-by-user", "/api/v1/audit?limit=50&actor=user042@example.com"},
				{"audit-by-resource-effect", "/api/v1/audit?limit=50&resource=res-007&effect=deny"},
				{"audit-time-window", "/api/v1/audit?limit=50&since=" + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339)},
				// The window's last page: ten entries, then nothing
				// older in the window.
				{"audit-time-window-last-page", "/api/v1/audit?limit=50&since=" + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + "&cursor=" + strconv.Itoa(n-n/15+10)},
				{"audit-search", "/api/v1/audit?limit=50&q=10.3.4"},
				{"audit-search-common", "/api/v1/audit?limit=50&q=example.com"},
				{"audit-search-by-user", "/api/v1/audit?limit=50&actor=user042@example.com&q=10.42"},
				{"devices-first-page", "/api/v1/devices?limit=50"},
				{"devices-deep-page", "/api/v1/devices?limit=50&cursor=d_005000"},
				{"devices-by-owner", "/api/v1/devices?limit=50&owner=u_042"},
				{"devices-search", "/api/v1/devices?limit=50&q=dev-0424"},
				{"page-audit", "/audit?actor=user042@example.com"},
				{"page-devices", "/devices"},
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

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.95), "p95-ms")
}

// BenchmarkIngest measures event ingestion from a gateway into the store
// through the control-plane handler (JSON decode, dedup by event id, hash
// chain, commit) in batches of 1,000 (GONAUT_BENCH_BATCH; a gateway may
// send up to controlplane.MaxBatch), beside a reference measured in the
// same run: COPY of the same rows into an unindexed, unchained table,
// the floor of what PostgreSQL can take.
//
//	go test -run '^$' -bench BenchmarkIngest -benchtime 100x ./apps/console/internal/server/
func BenchmarkIngest(b *testing.B) {
	for _, backend := range []string{"postgres", "sqlite"} {
		b.Run(backend, func(b *testing.B) {
			var st *store.DB
			if backend == "sqlite" {
				st = storetest.SQLite(b)
			} else {
				st = storetest.Postgres(b)
			}
			e := newEnv(b, st)
			_, tok, _ := e.srv.AddGateway(context.Background(), "bench", time.Hour)
			var cred controlplane.Credential
			rr := httptest.NewRecorder()
			body, _ := json.Marshal(controlplane.RegisterRequest{Token: tok})
			e.srv.ServeHTTP(rr, httptest.NewRequest("POST", "/cp/v1/register", bytes.NewReader(body)))
			json.Unmarshal(rr.Body.Bytes(), &cred)
			// The console takes events only about its own users.
			users := make([]string, 500)
			for i := range users {
				u := &store.User{Email: fmt.Sprintf("user%03d@example.com", i), Role: domain.RoleViewer}
				if err := st.CreateUser(context.Background(), u); err != nil {
					b.Fatal(err)
				}
				users[i] = u.ID
			}
			per := benchSize("GONAUT_BENCH_BATCH", 1000)
			seq := 0
			mkBatch := func() []byte {
				evs := make([]controlplane.Event, per)
				for i := range evs {
					seq++
					evs[i] = controlplane.Event{ID: "i" + strconv.Itoa(seq), Time: time.Now(), Kind: "decision", Subject: users[seq%len(users)],
						Resource: fmt.Sprintf("res-%03d", seq%200), Effect: "allow", Rule: "r1", Source: "10.1.2.3",
						Request: json.RawMessage(`{"subject":{"groups":["eng"]},"resource":{"kind":"tcp","name":"db"}}`)}
				}
				data, _ := json.Marshal(controlplane.EventBatch{Events: evs})
				return data
			}
			b.Run("console", func(b *testing.B) {
				b.ReportAllocs()
				var busy time.Duration
				for b.Loop() {
					data := mkBatch()
					req := httptest.NewRequest("POST", "/cp/v1/events", bytes.NewReader(data))
					req.Header.Set("Authorization", cred.Bearer())
					w := httptest.NewRecorder()
					t0 := time.Now()
					e.srv.ServeHTTP(w, req)
					busy += time.Since(t0)
					if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"rejected"`)) {
						b.Fatalf("%d %s", w.Code, w.Body.String())
					}
				}
				b.ReportMetric(float64(b.N*per)/busy.Seconds(), "events/s")
			})
			if backend != "postgres" {
				return
			}
			b.Run("reference-copy-unindexed", func(b *testing.B) {
				ctx := context.Background()
				db := st.SQL()
				if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS ref_events (seq BIGINT, time BIGINT, actor TEXT, action TEXT, resource TEXT, effect TEXT, gateway TEXT, event_id TEXT, detail TEXT, prev_hash TEXT, hash TEXT)`); err != nil {
					b.Fatal(err)
				}
				rows := make([]store.AuditEvent, per)
				var busy time.Duration
				for b.Loop() {
					for i := range rows {
						seq++
						rows[i] = store.AuditEvent{Seq: int64(seq), Time: time.Now(), Actor: "u", Action: "decision", Resource: "r", Effect: "allow", EventID: "r" + strconv.Itoa(seq), Detail: json.RawMessage(`{"rule":"r1","source":"10.1.2.3","request":{"subject":{"groups":["eng"]},"resource":{"kind":"tcp","name":"db"}}}`)}
					}
					t0 := time.Now()
					if err := st.CopyRaw(ctx, "ref_events", rows); err != nil {
						b.Fatal(err)
					}
					busy += time.Since(t0)
				}
				b.ReportMetric(float64(b.N*per)/busy.Seconds(), "events/s")
			})
		})
	}
}
