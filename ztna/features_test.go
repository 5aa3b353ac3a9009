package ztna_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/gonaut/gonaut/analytics"
	"github.com/gonaut/gonaut/ztna"
)

// sendToSink writes n bytes on a flow to sinkServer, half-closes it and
// checks the count the sink answers with.
func sendToSink(c net.Conn, n int) error {
	buf := make([]byte, 16<<10)
	for left := n; left > 0; {
		m := min(left, len(buf))
		if _, err := c.Write(buf[:m]); err != nil {
			return err
		}
		left -= m
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(line); got != strconv.Itoa(n) {
		return fmt.Errorf("sink received %s bytes, want %d", got, n)
	}
	return nil
}

// TestBandwidthLimit checks that a user's and a device's bytes per second
// bound all of their flows together: two flows at once take as long as one
// flow carrying both would.
func TestBandwidthLimit(t *testing.T) {
	const (
		bps   = 256 << 10 // the limit
		flows = 2
		each  = 640 << 10 // bytes per flow
		burst = bps       // a second's worth may pass at once
	)
	for _, tc := range []struct {
		name string
		set  func(*ztna.RateLimitConfig)
	}{
		{"per user", func(rl *ztna.RateLimitConfig) { rl.PerUser.BytesPerSecond = bps }},
		{"per device", func(rl *ztna.RateLimitConfig) { rl.PerDevice.BytesPerSecond = bps }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.cfg.Resources = []ztna.ResourceConfig{{Name: "sink.corp", Kind: "tcp", Port: 9, Upstreams: []string{sinkServer(t)}}}
			tc.set(&w.cfg.RateLimits)
			g := w.start(t, nil)
			ctx := testCtx(t, 60*time.Second)
			alice := w.client(t, g, "alice")
			if _, err := alice.Up(ctx); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, flows)
			for range flows {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := alice.Dial(ctx, "tcp", "sink.corp:9")
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(50 * time.Second))
					errs <- sendToSink(c, each)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			// Load can only make the transfer slower; a rate above 1.5
			// times the limit means the limit is not applied (or applied
			// to each flow alone, which would give twice the limit).
			rate := float64(flows*each-burst) / elapsed.Seconds()
			t.Logf("%d bytes in %v: %.0f B/s beyond the burst, limit %d B/s", flows*each, elapsed, rate, bps)
			if rate > 1.5*bps {
				t.Errorf("transfer ran at %.0f B/s, more than 1.5 × the %d B/s limit", rate, bps)
			}
			// Bob has a budget of his own: alice's spent one does not slow
			// down his first second's worth, which would otherwise take a
			// second to trickle through.
			c, err := w.client(t, g, "bob").Dial(ctx, "tcp", "sink.corp:9")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			t0 := time.Now()
			if err := sendToSink(c, burst/2); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(t0); d > 400*time.Millisecond {
				t.Errorf("bob's %d bytes took %v: throttled by alice's spent budget", burst/2, d)
			}
		})
	}
}

// tagServer is a TCP upstream that names itself on every connection and
// then echoes.
func tagServer(tb testing.TB, name string) string {
	tb.Helper()
	return tcpServer(tb, func(c net.Conn) {
		io.WriteString(c, name+"\n")
		io.Copy(c, c)
	})
}

func TestLeastConnections(t *testing.T) {
	a, b := tagServer(t, "A"), tagServer(t, "B")
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "lb.corp", Kind: "tcp", Port: 7, Balance: "least_conn", Upstreams: []string{a, b}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	carol := w.client(t, g, "carol")
	open := func() (net.Conn, string) {
		t.Helper()
		c, err := carol.Dial(ctx, "tcp", "lb.corp:7")
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Time{})
		return c, strings.TrimSpace(line)
	}
	active := func() map[string]int {
		m := map[string]int{}
		for i, st := range g.Upstreams("lb.corp") {
			m[[]string{"A", "B"}[i]] = st.Active
		}
		return m
	}

	// Four flows spread two and two.
	byUp := map[string][]net.Conn{}
	for range 4 {
		c, up := open()
		defer c.Close()
		byUp[up] = append(byUp[up], c)
	}
	if len(byUp["A"]) != 2 || len(byUp["B"]) != 2 {
		t.Fatalf("four flows: A has %d, B has %d; want 2 each", len(byUp["A"]), len(byUp["B"]))
	}
	// B's flows stay open while A's end: the next flows all go to A until
	// it has as many as B.
	for _, c := range byUp["A"] {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for active()["A"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("A's flows never ended at the gateway: %v", active())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 2 {
		c, up := open()
		defer c.Close()
		if up != "A" {
			t.Fatalf("flow %d with A at %d and B at %d live flows went to %s", i, i, 2, up)
		}
	}
	if got := active(); got["A"] != 2 || got["B"] != 2 {
		t.Errorf("live flows per upstream = %v, want 2 and 2", got)
	}
}

// fixedGeo is an analytics.GeoIP with a settable answer. It stands in for
// a MaxMind database because the test's peers reach the gateway from
// 127.0.0.1, which no real GeoIP database places anywhere.
type fixedGeo struct {
	mu  sync.Mutex
	geo analytics.Geo
	n   int // lookups
}

func (f *fixedGeo) Lookup(a netip.Addr) (analytics.Geo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !a.IsLoopback() {
		return analytics.Geo{}, fmt.Errorf("unexpected peer address %s", a)
	}
	f.n++
	return f.geo, nil
}

func (f *fixedGeo) set(country string, asn uint32) {
	f.mu.Lock()
	f.geo = analytics.Geo{Country: country, ASN: asn}
	f.mu.Unlock()
}

func TestGeoIPEnrichment(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	pol := `rules:
  - id: embargo
    effect: deny
    when: 'source.country in ["KP", "IR"] || source.asn == 64666'
  - id: everyone
    effect: allow
`
	if err := writeFile(w.cfg.Dir+"/geo.yaml", pol); err != nil {
		t.Fatal(err)
	}
	w.cfg.Policies = []string{"geo.yaml"}
	geo := &fixedGeo{}
	g := w.start(t, &ztna.Options{GeoIP: geo})
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")

	for _, tc := range []struct {
		country string
		asn     uint32
		allowed bool
		rule    string
	}{
		{"DE", 3320, true, "everyone"},
		{"KP", 131279, false, "embargo"},
		{"FR", 64666, false, "embargo"},
		{"", 0, true, "everyone"}, // unknown to the database
	} {
		geo.set(tc.country, tc.asn)
		start := time.Now()
		c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
		if tc.allowed {
			if err != nil {
				t.Fatalf("from %s/AS%d: %v", tc.country, tc.asn, err)
			}
			echoOnce(t, c, "hi")
			c.Close()
		} else if err == nil {
			c.Close()
			t.Fatalf("from %s/AS%d: flow admitted past the embargo rule", tc.country, tc.asn)
		}
		ev := w.waitEvent(t, func(ev ztna.Event) bool {
			return ev.Kind == ztna.EventDecision && !ev.Time.Before(start)
		})
		want := "deny"
		if tc.allowed {
			want = "allow"
		}
		if ev.Effect != want || ev.Rule != tc.rule || ev.Country != tc.country || ev.ASN != tc.asn || ev.Source != "127.0.0.1" {
			t.Errorf("from %s/AS%d: decision %+v, want %s by %s with the country, ASN and source", tc.country, tc.asn, ev, want, tc.rule)
		}
	}
	geo.mu.Lock()
	n := geo.n
	geo.mu.Unlock()
	if n < 4 {
		t.Errorf("GeoIP consulted %d times for 4 flows", n)
	}
}

// TestGeoIPFromConfig plugs real MaxMind databases through the
// configuration (analytics off): one places loopback, where the test's
// peers come from, in North Korea, the other in AS 64666.
func TestGeoIPFromConfig(t *testing.T) {
	mmdb := func(dbType string, rec mmdbtype.Map) []byte {
		w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, BuildEpoch: 1, IncludeReservedNetworks: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(&net.IPNet{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}, rec); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	for name, db := range map[string][]byte{
		"city.mmdb": mmdb("GeoIP2-City", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("KP")}}),
		"asn.mmdb":  mmdb("GeoLite2-ASN", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64666)}),
	} {
		if err := os.WriteFile(filepath.Join(w.cfg.Dir, name), db, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.cfg.Analytics = ztna.AnalyticsConfig{GeoIPCity: "city.mmdb", GeoIPASN: "asn.mmdb"}
	pol := `rules:
  - id: kp-as64666
    effect: allow
    when: 'source.country == "KP" && source.asn == 64666'
`
	if err := writeFile(w.cfg.Dir+"/geo.yaml", pol); err != nil {
		t.Fatal(err)
	}
	w.cfg.Policies = []string{"geo.yaml"}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	c, err := w.client(t, g, "carol").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatalf("policy did not see KP and AS 64666 from the configured databases: %v", err)
	}
	echoOnce(t, c, "from KP")
	c.Close()
	ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDecision })
	if ev.Country != "KP" || ev.ASN != 64666 || ev.Effect != "allow" {
		t.Errorf("decision = %+v, want KP, AS 64666, allowed", ev)
	}

	// A database that cannot be read stops the gateway from starting.
	bad := *w.cfg
	bad.Analytics.GeoIPCity = "missing.mmdb"
	if g, err := ztna.New(context.Background(), &bad, nil); err == nil {
		g.Close()
		t.Error("gateway started with a missing GeoIP database")
	}
}

// TestRiskThresholdCutsLiveFlow drives a subject's risk score over a
// policy's threshold and checks that the subject's live flow is cut within
// a second: once through the gateway's own denials (the denial burst
// detector), once through events fed to the analytics engine from
// elsewhere (another gateway, the console), which the periodic
// re-decision picks up.
func TestRiskThresholdCutsLiveFlow(t *testing.T) {
	pol := `rules:
  - id: low-risk-echo
    effect: allow
    resources: {names: [echo.corp]}
    when: 'risk.score < 30'
`
	for _, tc := range []struct {
		name    string
		recheck time.Duration
		raise   func(t *testing.T, ctx context.Context, c *ztna.Client, eng *analytics.Engine)
	}{
		{"denials through the gateway", time.Hour, func(t *testing.T, ctx context.Context, c *ztna.Client, _ *analytics.Engine) {
			for i := range 12 {
				if conn, err := c.Dial(ctx, "tcp", "vault.corp:7"); err == nil {
					conn.Close()
					t.Fatalf("denial %d: vault.corp admitted", i)
				}
			}
		}},
		{"events from elsewhere", 0, func(t *testing.T, _ context.Context, _ *ztna.Client, eng *analytics.Engine) {
			for i := range 12 {
				_, err := eng.Observe(analytics.Event{
					Time: time.Now(), Kind: analytics.KindDecision, Effect: analytics.EffectDeny,
					Subject: "alice", Resource: fmt.Sprint("db-", i), Rule: "none",
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.cfg.Resources = []ztna.ResourceConfig{
				{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}},
				{Name: "vault.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}},
			}
			if err := writeFile(w.cfg.Dir+"/risk.yaml", pol); err != nil {
				t.Fatal(err)
			}
			w.cfg.Policies = []string{"risk.yaml"}
			// With a re-decision every hour, only the alert can cut the
			// flow in time; with the default (0: 500 ms) the periodic
			// re-decision must.
			w.cfg.Recheck = tc.recheck
			// The engine's clock is real time plus skew, so that the test
			// can age the risk score at the end.
			var skew atomic.Int64
			eng, err := analytics.New(&analytics.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			g := w.start(t, &ztna.Options{Analytics: eng})
			ctx := testCtx(t, 30*time.Second)
			alice := w.client(t, g, "alice")
			c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echoOnce(t, c, "low risk")
			// Analytics knows a subject once it has seen an allowed
			// decision, which it has when the decision is in the audit
			// trail.
			w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventDecision && ev.Subject == "alice" })

			tc.raise(t, ctx, alice, eng)
			deadline := time.Now().Add(10 * time.Second)
			for eng.Risk("alice").Score < 30 {
				if time.Now().After(deadline) {
					t.Fatalf("risk stayed at %+v", eng.Risk("alice"))
				}
				time.Sleep(5 * time.Millisecond)
			}
			crossed := time.Now()
			c.SetReadDeadline(crossed.Add(time.Second))
			_, err = c.Read(make([]byte, 1))
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("flow not cut within 1 s of the risk score reaching %d: %v", eng.Risk("alice").Score, err)
			}
			t.Logf("risk %+v: flow cut %v after the score crossed 30", eng.Risk("alice"), time.Since(crossed))
			ev := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventRevoke && ev.Subject == "alice" })
			if !strings.Contains(ev.Reason, "denied") {
				t.Errorf("revoke event = %+v", ev)
			}
			if _, err := alice.Dial(ctx, "tcp", "echo.corp:7"); err == nil {
				t.Error("a new flow was admitted at high risk")
			}
			if tc.recheck == 0 {
				return // the alerts were raised outside the gateway
			}
			// The gateway's own alert joins the audit trail, and the
			// subject's score is among those it reports.
			al := w.waitEvent(t, func(ev ztna.Event) bool { return ev.Kind == ztna.EventAlert && ev.Subject == "alice" })
			if al.Alert == nil || al.Alert.Detector != analytics.DenialBurst || al.Alert.Evidence["denials"] == nil || al.Reason == "" {
				t.Errorf("alert event = %+v, alert %+v", al, al.Alert)
			}
			if rs := g.Risks(); len(rs) != 1 || rs[0].Subject != "alice" || rs[0].Score != eng.Risk("alice").Score {
				t.Errorf("Risks() = %+v, want alice at %d", rs, eng.Risk("alice").Score)
			}
			// Two days on, the score has decayed to zero and the gateway
			// reports nobody.
			skew.Store(int64(48 * time.Hour))
			if rs := g.Risks(); len(rs) != 0 {
				t.Errorf("Risks() two days on = %+v, want none", rs)
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	w := newWorld(t)
	const idle = 300 * time.Millisecond
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, IdleTimeout: idle, Upstreams: []string{echoServer(t)}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	c, err := w.client(t, g, "alice").Dial(ctx, "tcp", "echo.corp:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A flow that keeps talking outlives several idle timeouts.
	for end := time.Now().Add(3 * idle); time.Now().Before(end); {
		time.Sleep(idle / 4)
		echoOnce(t, c, "busy")
	}
	// Once quiet, it is closed.
	quiet := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("idle flow not closed: %v", err)
	}
	if d := time.Since(quiet); d < idle*9/10 {
		t.Errorf("flow closed %v after its last byte, before the %v idle timeout", d, idle)
	}
}

// TestHTTPUpstreamPooling checks that requests from several peer
// connections reuse the gateway's pooled upstream connections instead of
// dialling one per request or per peer connection.
func TestHTTPUpstreamPooling(t *testing.T) {
	var mu sync.Mutex
	dials := 0
	up := &http.Server{Handler: whoami("wiki"), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			dials++
			mu.Unlock()
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); up.Serve(ln) }()
	t.Cleanup(func() { up.Close(); <-done })

	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{ln.Addr().String()}}}
	g := w.start(t, nil)
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	for i := range 3 { // three peer connections, one after the other
		hc := &http.Client{Transport: &http.Transport{DialContext: alice.Dial, DisableKeepAlives: i == 2}}
		for range 5 {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://wiki.corp/page", nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		hc.CloseIdleConnections()
	}
	mu.Lock()
	defer mu.Unlock()
	if dials != 1 {
		t.Errorf("15 requests over 7 peer connections made %d upstream connections, want 1", dials)
	}
}

// slowSink is an AuditSink that takes a millisecond per event.
type slowSink struct {
	mu  sync.Mutex
	evs []ztna.Event
}

func (s *slowSink) Record(ev *ztna.Event) error {
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	s.evs = append(s.evs, *ev)
	s.mu.Unlock()
	return nil
}

// TestCloseRecordsQueuedEvents checks that events recorded off the flows'
// paths are not lost: after Close returns, a slow sink has every decision
// and every closed flow, formatted.
func TestCloseRecordsQueuedEvents(t *testing.T) {
	const n = 20
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	sink := &slowSink{}
	g, err := ztna.New(context.Background(), w.cfg, &ztna.Options{Audit: sink})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := testCtx(t, 30*time.Second)
	alice := w.client(t, g, "alice")
	for i := range n {
		c, err := alice.Dial(ctx, "tcp", "echo.corp:7")
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, fmt.Sprint("flow ", i))
		if i%2 == 0 {
			c.Close() // the others are still open when the gateway closes
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	kinds := map[string]int{}
	for _, ev := range sink.evs {
		kinds[ev.Kind]++
		if ev.Peer == "" || ev.Source != "127.0.0.1" || ev.Inner == "" {
			t.Errorf("event not formatted: %+v", ev)
			break
		}
	}
	if kinds[ztna.EventDecision] != n || kinds[ztna.EventFlow] != n {
		t.Errorf("after Close the sink has %v, want %d decisions and %d flows", kinds, n, n)
	}
}

// TestGeoIPNewPeerFailsClosed checks that a peer's first flows are
// located too: a country rule must not let through the first flows of a
// peer that connected just after another one.
func TestGeoIPNewPeerFailsClosed(t *testing.T) {
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "echo.corp", Kind: "tcp", Port: 7, Upstreams: []string{echoServer(t)}}}
	pol := `rules:
  - id: not-from-kp
    effect: allow
    when: 'source.country != "KP"'
`
	if err := writeFile(w.cfg.Dir+"/geo.yaml", pol); err != nil {
		t.Fatal(err)
	}
	w.cfg.Policies = []string{"geo.yaml"}
	geo := &fixedGeo{}
	geo.set("KP", 131279)
	g := w.start(t, &ztna.Options{GeoIP: geo})
	ctx := testCtx(t, 30*time.Second)
	for _, user := range []string{"alice", "bob", "carol"} {
		if c, err := w.client(t, g, user).Dial(ctx, "tcp", "echo.corp:7"); err == nil {
			c.Close()
			t.Errorf("%s's first flow from KP was admitted", user)
		}
	}
}

// TestBandwidthLimitHTTP checks that HTTP responses draw from the same
// per-user budget as TCP flows.
func TestBandwidthLimitHTTP(t *testing.T) {
	const (
		bps  = 128 << 10
		size = 512 << 10
	)
	body := strings.Repeat("x", size)
	w := newWorld(t)
	w.cfg.Resources = []ztna.ResourceConfig{{Name: "wiki.corp", Kind: "http", Upstreams: []string{httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))}}}
	w.cfg.RateLimits.PerUser.BytesPerSecond = bps
	g := w.start(t, nil)
	ctx := testCtx(t, 60*time.Second)
	hc := w.client(t, g, "alice").HTTPClient()
	defer hc.CloseIdleConnections()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://wiki.corp/big", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v; want %d", n, err, size)
	}
	elapsed := time.Since(start)
	rate := float64(size-bps) / elapsed.Seconds() // the first second's worth may pass at once
	t.Logf("%d bytes in %v: %.0f B/s beyond the burst, limit %d B/s", size, elapsed, rate, bps)
	if rate > 1.5*bps {
		t.Errorf("HTTP response ran at %.0f B/s, more than 1.5 × the %d B/s limit", rate, bps)
	}
}
