package ztna

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gonaut/gonaut/policy"
)

// IdentityHeader carries the signed identity assertion (a JWT) on every
// request the gateway proxies to an HTTP upstream. The gateway removes
// every copy of it a peer sends, in any spelling (see stripClientHeaders).
const IdentityHeader = "X-Gonaut-Identity"

// JWKSPath is where the gateway serves the public keys that verify
// identity assertions, on its tunnel address (port 80) and through
// Gateway.JWKSHandler.
const JWKSPath = "/.well-known/jwks.json"

// securityHeaders are added to every proxied response that does not set
// them itself.
var securityHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "SAMEORIGIN"},
	{"Referrer-Policy", "strict-origin-when-cross-origin"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
}

type ctxKey struct{}

// httpConn is an accepted peer connection to an HTTP resource, with who
// opened it.
type httpConn struct {
	net.Conn
	a       *access
	lf      *liveFlow
	once    sync.Once
	onClose func() // ends the flow: run once, by the first Close
}

func (c *httpConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.onClose)
	return err
}

// connListener feeds accepted connections to an http.Server.
type connListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// httpProxy is the layer-7 proxy of HTTP resources: one http.Server fed by
// the flows of all of them.
type httpProxy struct {
	g   *Gateway
	ln  *connListener
	srv *http.Server
	rp  *httputil.ReverseProxy
	wg  sync.WaitGroup
}

// proxyCtx is what the reverse proxy's hooks need of an admitted
// request: its access, as decided, and the upstream picked for it.
type proxyCtx struct {
	a *access
	u *upstream
}

func newHTTPProxy(g *Gateway) *httpProxy {
	p := &httpProxy{g: g, ln: &connListener{ch: make(chan net.Conn), closed: make(chan struct{}), addr: &net.TCPAddr{}}}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      g.httpT,
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       nil,
		BufferPool:     bufferPool{},
	}
	p.srv = &http.Server{
		Handler:           http.HandlerFunc(p.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, c.(*httpConn))
		},
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.srv.Serve(p.ln)
	}()
	return p
}

func (p *httpProxy) close() {
	p.srv.Close()
	p.wg.Wait()
}

// httpFlow is an admitted connection to an HTTP resource, held until it
// is accepted.
type httpFlow struct {
	g  *Gateway
	st *state
	a  *access
	bw []*rate.Limiter
}

// admitHTTP admits a peer's connection to an HTTP resource within its
// limits. Policy decides each request on it on its own (serveHTTP).
func (g *Gateway) admitHTTP(ctx context.Context, q *accessQuery) (decision, admission) {
	q.undecided, q.flow = true, true
	d := g.decide(ctx, q)
	if d.why != nil {
		return d, nil
	}
	return d, &httpFlow{g: g, st: q.st, a: d.a, bw: d.bw}
}

func (hf *httpFlow) abort() { hf.st.limits.release(hf.a.id) }

// serve hands the connection to the proxy's server, where each request on
// it is decided on its own. The flow ends, and its limits are released,
// when the server closes the connection; no goroutine waits for that.
func (hf *httpFlow) serve(ctx context.Context, conn net.Conn) {
	g, st, a := hf.g, hf.st, hf.a
	hc := &httpConn{Conn: throttle(conn, hf.bw), a: a}
	hc.lf = &liveFlow{a: a, start: time.Now(), conns: []net.Conn{hc}}
	hc.onClose = func() {
		g.flows.remove(hc.lf)
		st.limits.release(a.id)
	}
	g.flows.add(hc.lf)
	select {
	case g.hproxy.ln.ch <- hc:
	case <-ctx.Done():
		hc.Close()
	case <-g.hproxy.ln.closed:
		hc.Close()
	}
}

func (p *httpProxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	g := p.g
	hc, _ := r.Context().Value(ctxKey{}).(*httpConn)
	if hc == nil {
		http.Error(w, "no flow", http.StatusInternalServerError)
		return
	}
	// Each request is decided as if it opened the connection: with the
	// directory's identity of the peer now, the running resource and
	// policy set, and the risk now. What the flow was admitted with
	// (hc.a) names only the peer and the resource it dialed.
	st := g.state.Load()
	var u *upstream
	path := r.URL.EscapedPath() // the decided path, once normalised
	status := http.StatusForbidden
	d := g.decide(r.Context(), &accessQuery{
		st: st, peer: hc.a.peer, src: hc.a.inner, res: st.byName[lowerName(hc.a.res.cfg.Name)],
		within: hc.a, event: EventRequest, start: time.Now(), live: hc.lf,
		prepare: func(a *access) error {
			if other, bad := misdirected(st, a.res, r.Host); bad {
				status = http.StatusMisdirectedRequest
				return misdirectedError(r.Host, other)
			}
			raw, clean, err := normalizePath(r.URL.EscapedPath(), a.res.keepSlashes)
			if err != nil {
				status = http.StatusBadRequest
				return err
			}
			// The decided path is the forwarded path: the proxy joins
			// nothing to it, and RawPath makes the outgoing request
			// line exactly raw.
			path, r.URL.RawPath = clean, raw
			if r.URL.Path = clean; a.res.keepSlashes {
				r.URL.Path, _ = url.PathUnescape(raw) // normalizePath checked the escapes
			}
			return nil
		},
		facts: func(res *policy.Resource) error {
			res.Method, res.Path = r.Method, path
			res.Host = res.Name // the Host the upstream receives
			return nil
		},
		limit: func(a *access) error {
			if !st.limits.allowRequest(a.id) {
				return ErrRateLimited
			}
			return nil
		},
		connect: func(_ context.Context, a *access) (string, error) {
			if u = a.res.pool.pick(); u == nil {
				return "", ErrNoUpstream
			}
			return u.addr, nil
		},
		describe: func(ev *Event) { ev.Method, ev.Path = r.Method, path },
	})
	switch d.stage {
	case stageAdmitted:
	case stageIdentify:
		// The peer's device or user is gone or disabled, or the resource
		// removed: nothing more is decided on this connection.
		w.Header().Set("Connection", "close")
		refuseRequest(w, http.StatusForbidden, d.why)
		return
	case stagePrepare:
		refuseRequest(w, status, d.why)
		return
	case stageLimit:
		refuseRequest(w, http.StatusTooManyRequests, d.why)
		return
	case stageConnect:
		refuseRequest(w, http.StatusBadGateway, d.why)
		return
	default:
		refuseRequest(w, http.StatusForbidden, d.why)
		return
	}
	u.active.Add(1)
	defer u.active.Add(-1)
	pc := &proxyCtx{a: d.a, u: u}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), proxyCtxKey{}, pc)))
}

// refuseRequest answers a refused request (recorded by the decision) with
// status and why.
func refuseRequest(w http.ResponseWriter, status int, why error) {
	setSecurityHeaders(w.Header())
	http.Error(w, "gonaut: "+why.Error(), status)
}

type proxyCtxKey struct{}

// bufferPool lends the proxy the splice buffers, which it would otherwise
// allocate (32 KiB) for every response body.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBufs.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }

func (p *httpProxy) rewrite(pr *httputil.ProxyRequest) {
	pc := pr.In.Context().Value(proxyCtxKey{}).(*proxyCtx)
	pr.SetURL(&url.URL{Scheme: "http", Host: pc.u.addr})
	pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
	// The upstream sees the resource the request was decided for, never
	// a Host the peer chose: one upstream may serve several resources.
	name := pc.a.res.cfg.Name
	pr.Out.Host = name
	stripClientHeaders(pr.Out.Header)
	pr.Out.Header.Set("X-Forwarded-For", pc.a.inner.Addr().String())
	pr.Out.Header.Set("X-Forwarded-Host", name)
	pr.Out.Header.Set("X-Forwarded-Proto", "http")
	if tok, err := p.g.signer.token(pc.a, time.Now()); err == nil {
		pr.Out.Header.Set(IdentityHeader, tok)
	}
}

func (p *httpProxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if pc, ok := r.Context().Value(proxyCtxKey{}).(*proxyCtx); ok && r.Context().Err() == nil {
		pc.a.res.pool.eject(pc.u)
	}
	setSecurityHeaders(w.Header())
	http.Error(w, "gonaut: upstream: "+err.Error(), http.StatusBadGateway)
}

func modifyResponse(resp *http.Response) error {
	setSecurityHeaders(resp.Header)
	return nil
}

func setSecurityHeaders(h http.Header) {
	for _, kv := range securityHeaders {
		if h.Get(kv[0]) == "" {
			h.Set(kv[0], kv[1])
		}
	}
}

func lowerName(s string) string { return strings.ToLower(s) }

// JWKSHandler serves the JSON Web Key Set of the keys that sign identity
// assertions, for upstream apps to verify IdentityHeader.
func (g *Gateway) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write(g.signer.jwks)
	})
}

// startServices serves DNS (port 53) and the JWKS (port 80) on the
// gateway's tunnel address.
func (g *Gateway) startServices() error {
	pc, err := g.tun.ListenPacket("udp", fmt.Sprintf("%s:53", ipLiteral(g.addr)))
	if err != nil {
		return fmt.Errorf("ztna: dns: %w", err)
	}
	ln, err := g.tun.Listen("tcp", fmt.Sprintf("%s:80", ipLiteral(g.addr)))
	if err != nil {
		pc.Close()
		return fmt.Errorf("ztna: jwks: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+JWKSPath, g.JWKSHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.wg.Add(3)
	go func() {
		defer g.wg.Done()
		g.serveDNS(pc)
	}()
	go func() {
		defer g.wg.Done()
		srv.Serve(ln)
	}()
	go func() {
		defer g.wg.Done()
		<-g.ctx.Done()
		pc.Close()
		srv.Close()
	}()
	return nil
}
