package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
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
	// LockoutAfter failed logins lock an account for LockoutFor.
	// Defaults 5 and 15 minutes.
	LockoutAfter int
	LockoutFor   time.Duration
	// DeviceSession is how long an enrolled device's session lasts before
	// its owner must log in with MFA again. Default 12 hours.
	DeviceSession time.Duration
	// ConfigPoll is how often the configuration version is re-read from
	// the store, which bundle long-polls wait on. Changes made through
	// this console are seen at once, and on PostgreSQL so are changes
	// made through another replica (LISTEN/NOTIFY); the poll is the
	// safety net. Default 1 second.
	ConfigPoll time.Duration
	// Now replaces the clock in tests. Default time.Now.
	Now func() time.Time
}

// Server is the console: web pages, REST API, live updates and the
// control plane, over one Store. It is an http.Handler.
type Server struct {
	st   store.Store
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	hub  *hub

	loginIP   *throttle
	loginUser *throttle

	origin string // this process among the replicas, for relayed events
	// listening is closed once the server listens to the other
	// replicas (tests wait on it).
	listening     chan struct{}
	listeningOnce sync.Once

	// policyMu serialises policy changes (save, rollback, delete) with
	// their check of the whole enabled set.
	policyMu sync.Mutex

	stop     chan struct{}
	bg       context.Context // ends when stop closes
	bgCancel context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	attach attachCache  // see attachments.go
	sum    summaryCache // see auditapi.go
}

var _ http.Handler = (*Server)(nil)

// New returns a console over st.
func New(st store.Store, opts *Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("console: nil store")
	}
	s := &Server{st: st, mux: http.NewServeMux(), hub: newHub(), stop: make(chan struct{}), listening: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.SessionMax <= 0 {
		o.SessionMax = 12 * time.Hour
	}
	if o.LockoutAfter <= 0 {
		o.LockoutAfter = 5
	}
	if o.LockoutFor <= 0 {
		o.LockoutFor = 15 * time.Minute
	}
	if o.DeviceSession <= 0 {
		o.DeviceSession = 12 * time.Hour
	}
	if o.ConfigPoll <= 0 {
		o.ConfigPoll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.loginIP = newThrottle(20, 3*time.Second)
	s.loginUser = newThrottle(10, 6*time.Second)
	for _, rt := range s.routes() {
		s.handle(rt)
	}
	s.bg, s.bgCancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.watchConfig()
	if st.Shared() {
		s.origin = hex.EncodeToString(randomBytes(8))
		s.hub.relay = make(chan liveEvent, 4096)
		s.wg.Add(2)
		go s.relayLive()
		go s.listen()
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

// watchConfig publishes a "config" event whenever the store's
// configuration version moves, whoever moved it.
func (s *Server) watchConfig() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ConfigPoll)
	defer t.Stop()
	var last int64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := s.st.ConfigVersion(ctx)
		cancel()
		if err == nil && v != last {
			last = v
			s.hub.setVersion(v)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.hub.poke:
		}
	}
}

// changed is called after every mutation: it re-reads the configuration
// version at once, so gateways long-polling learn of it without waiting
// for the next tick.
func (s *Server) changed() {
	select {
	case s.hub.poke <- struct{}{}:
	default:
	}
}

// apiError is the single error format of the REST API and control plane.
type apiError = controlplane.Error

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)})
}

// storeError maps a store error to an API answer.
func (s *Server) storeError(w http.ResponseWriter, err error) {
	var invalid errString
	switch {
	case errors.As(err, &invalid):
		writeError(w, http.StatusBadRequest, "invalid", "%s", invalid)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", "already exists")
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", "%s", strings.TrimPrefix(err.Error(), "store: invalid: "))
	case errors.Is(err, store.ErrQuota):
		writeError(w, http.StatusConflict, "quota", "device quota reached (%s); remove a device first", strings.TrimPrefix(err.Error(), store.ErrQuota.Error()+": "))
	case errors.Is(err, store.ErrPoolFull):
		writeError(w, http.StatusInsufficientStorage, "pool_full", "the tunnel address pool is full; widen %s", SettingWGNetwork)
	case errors.Is(err, store.ErrTokenUsed):
		writeError(w, http.StatusUnauthorized, "unauthorized", "registration token unknown, expired or already used")
	default:
		s.log.Error("console: store", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// decode reads a JSON body of at most 2 MiB into v, refusing unknown
// fields; it writes the error answer itself and reports false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid", "request body: %v", err)
		return false
	}
	return true
}
