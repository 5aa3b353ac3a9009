package server

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Options configure a Server. A nil *Options means the defaults; New never
// modifies the options it is given.
type Options struct {
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger
	// SessionIdle ends a web session after this long without a request.
	// Default 30 minutes.
	SessionIdle time.Duration
	// SessionMax ends a web session this long after login, active or not.
	// Default 12 hours.
	SessionMax time.Duration
	// SecureCookies marks every cookie Secure and sends
	// Strict-Transport-Security; set it whenever the console is served
	// over HTTPS, by itself or by a TLS proxy that is the only way in
	// (always, outside a laptop). Default false.
	SecureCookies bool
	// BackoffAfter failed logins in a row of one account from one source
	// (client address, IPv6 /64) make that source wait BackoffBase before
	// its next attempt on the account is checked, doubling with every
	// further failure up to BackoffMax. Other sources are not slowed, so
	// an attacker cannot lock a user out. Defaults 5, 1 second and 15
	// minutes.
	BackoffAfter int
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	// DeviceSession is how long an enrolled device's session lasts before
	// its owner must log in with MFA again. Default 12 hours.
	DeviceSession time.Duration
	// ConfigPoll is how often the configuration version is re-read from
	// the store, which bundle long-polls wait on. Changes made through
	// this console are seen at once, and on PostgreSQL so are changes
	// made through another replica (LISTEN/NOTIFY); the poll is the
	// safety net. Default 1 second.
	ConfigPoll time.Duration
	// SecretKey (domain.SecretKeySize bytes) seals the secrets the console
	// must read back, TOTP secrets, so that the database alone does not
	// reveal them; keep it outside the database (domain.LoadOrCreateSecretKey)
	// and give every replica the same one. New seals secrets stored
	// before they were sealed, and refuses to start when the database's
	// secrets were sealed with another key. Default: a random key for
	// this process only, which nothing is migrated to and which makes
	// TOTP enrolled now unusable after a restart: for tests and for
	// commands that do not touch secrets.
	SecretKey []byte
	// AuditKey signs checkpoints of the audit chain's head (see
	// server_checkpoints.go). Keep it outside the database: whoever holds it can
	// sign a rewritten log. Replicas sharing a database share the key.
	// Default nil: no checkpoints, and the log is protected by its chain
	// alone.
	AuditKey ed25519.PrivateKey
	// CheckpointEvery signs the head once it is this many entries past
	// the last checkpoint. Default 1000.
	CheckpointEvery int
	// CheckpointInterval signs the head this often when entries arrived
	// since the last checkpoint. Default 1 minute.
	CheckpointInterval time.Duration
	// PolicyDraftLimit bounds the body of every request that carries a
	// policy draft (validate, simulate, save; API and pages): a larger
	// one is refused with 413 before it is read. Default 1 MiB; at most
	// policy.MaxDocumentBytes plus 64 KiB.
	PolicyDraftLimit int64
	// CompileBurst and CompileEvery rate-limit, per user (or API key),
	// the routes that compile whatever draft they are sent (validate and
	// simulate): a token bucket of CompileBurst requests refilled one
	// per CompileEvery; past it the answer is 429 with Retry-After.
	// Defaults 20 and 500 ms.
	CompileBurst int
	CompileEvery time.Duration
	// Now replaces the clock in tests. Default time.Now.
	Now func() time.Time
}

// Server is the console: web pages, REST API, live updates and the
// control plane, over one Store. It is an http.Handler.
type Server struct {
	// plat holds every tenant's Service; a request reaches its own
	// through its principal (principal.dom), never through the server.
	plat *domain.Platform
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	hub  *hub

	loginIP *throttle // per client source: logins and registrations
	// reauth is per user: password checks by a signed-in user (changing
	// the password, the second factor). It slows a stolen session's
	// guessing; it cannot lock the owner out of signing in.
	reauth *throttle

	// testHookPasswordChecked, when set by a test, runs in login between
	// the password check and what login does with the result; it widens
	// the window a concurrent change of the user must not be lost in.
	// Production never sets it.
	testHookPasswordChecked atomic.Pointer[func()]
	badProxies              sync.Map // malformed trusted_proxies values already logged

	compile *throttle   // per principal, see routes_limits.go
	api     *apiLimiter // the REST API's rate limits, see routes_ratelimit.go

	origin string // this process among the replicas, for relayed events
	// listening is closed once the server listens to the other
	// replicas (tests wait on it).
	listening     chan struct{}
	listeningOnce sync.Once

	stop     chan struct{}
	bg       context.Context // ends when stop closes
	bgCancel context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	cpPoke  chan struct{}   // wakes the checkpointer, see server_checkpoints.go
	cpMu    sync.Mutex      // guards cpDirty
	cpDirty map[string]bool // tenants with entries since the last wake-up

}

var _ http.Handler = (*Server)(nil)

// New returns a console over st, the default tenant's store, through
// which it serves every tenant (see domain.Platform).
func New(st domain.Root, opts *Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("console: nil store")
	}
	s := &Server{mux: http.NewServeMux(), hub: newHub(), stop: make(chan struct{}), listening: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	// The sign-in, backoff and device-session options are the domain's
	// to default (see domain.Options).
	if o.ConfigPoll <= 0 {
		o.ConfigPoll = time.Second
	}
	if o.PolicyDraftLimit <= 0 {
		o.PolicyDraftLimit = defaultDraftLimit
	}
	o.PolicyDraftLimit = min(o.PolicyDraftLimit, maxDraftLimit)
	if o.CompileBurst <= 0 {
		o.CompileBurst = 20
	}
	if o.CompileEvery <= 0 {
		o.CompileEvery = 500 * time.Millisecond
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Minute
	}
	if o.AuditKey != nil && len(o.AuditKey) != ed25519.PrivateKeySize {
		return nil, errors.New("console: the audit key is not an Ed25519 private key")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.loginIP = newThrottle(20, 3*time.Second)
	s.reauth = newThrottle(10, 6*time.Second)
	var err error
	if s.plat, err = domain.NewPlatform(st, domain.Options{Now: o.Now, Logger: s.log, AuditAppended: s.auditAppended,
		SecretKey: o.SecretKey, SessionIdle: o.SessionIdle, SessionMax: o.SessionMax,
		BackoffAfter: o.BackoffAfter, BackoffBase: o.BackoffBase, BackoffMax: o.BackoffMax,
		Reauth:          func(id string) bool { return s.reauth.allow(id, s.now()) },
		Covers:          covers,
		PasswordChecked: s.passwordChecked,
		AuditKey:        o.AuditKey, CheckpointEvery: o.CheckpointEvery,
		DeviceSession: o.DeviceSession,
	}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = s.plat.Default().SealStoredSecrets(ctx)
	cancel()
	if err != nil {
		return nil, err
	}
	s.compile = newThrottle(o.CompileBurst, o.CompileEvery)
	s.api = newAPILimiter()
	rs := s.routes()
	for _, rt := range rs {
		s.handle(rt)
	}
	s.hub.perms = livePerms(rs)
	s.bg, s.bgCancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.watchConfig()
	if o.AuditKey != nil {
		s.cpPoke, s.cpDirty = make(chan struct{}, 1), map[string]bool{}
		s.wg.Add(1)
		go s.checkpointLoop()
	}
	if s.plat.Default().Replicated() {
		s.origin = hex.EncodeToString(randomBytes(8))
		s.hub.relay = make(chan liveEvent, 4096)
		s.wg.Add(3)
		go s.relayLive()
		go s.listen()
		go s.countReplicas()
	}
	return s, nil
}

// Close stops the server's background work and ends live streams. It
// does not close the store. It is safe to call twice.
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.bgCancel()
		s.hub.close()
		s.wg.Wait()
	})
	return nil
}

// ServeHTTP serves every console route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	if s.opts.SecureCookies {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// watchConfig publishes a "config" event whenever a tenant's
// configuration version moves, whoever moved it: at once for the
// tenants marked changed (hub.markChanged), and every ConfigPoll for
// every tenant the hub tracks (those a gateway long-polls or a change
// was made in, and the default tenant).
func (s *Server) watchConfig() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ConfigPoll)
	defer t.Stop()
	all := true
	for {
		for _, tenant := range s.hub.toRead(all) {
			ctx, cancel := context.WithTimeout(s.bg, 5*time.Second)
			if dom, err := s.plat.Service(ctx, tenant); err == nil {
				if v, err := dom.ConfigVersion(ctx); err == nil {
					s.hub.setVersion(tenant, v)
				}
			}
			cancel()
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
			all = true
		case <-s.hub.poke:
			all = false
		}
	}
}

// passwordChecked runs the test hook of login, if one is set.
func (s *Server) passwordChecked() {
	if hook := s.testHookPasswordChecked.Load(); hook != nil {
		(*hook)()
	}
}

// changed is called after every mutation in tenant: it re-reads the
// tenant's configuration version at once, so gateways long-polling
// learn of it without waiting for the next tick.
func (s *Server) changed(tenant string) { s.hub.markChanged(tenant) }
