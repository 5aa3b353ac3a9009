package domain

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Options configures a Service.
type Options struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives what operations log (audit append failures).
	// Default: discard.
	Logger *slog.Logger
	// AuditAppended, when set, is called with the tenant's id after
	// audit entries are appended to its log (the checkpointer's
	// wake-up).
	AuditAppended func(tenant string)

	// Users, sign-in and API keys (users.go, sessions.go, mfa.go,
	// apikeys.go):
	//
	// SecretKey (SecretKeySize bytes) seals TOTP secrets; nil means a
	// random key for this process only (see SealStoredSecrets).
	SecretKey []byte
	// SessionIdle and SessionMax end a web session after that long
	// without use and since its sign-in. Defaults 30 minutes and 12
	// hours.
	SessionIdle, SessionMax time.Duration
	// BackoffAfter, BackoffBase and BackoffMax slow down failed logins
	// of one account from one source (see Service.Login). Defaults 5, 1
	// second and 15 minutes.
	BackoffAfter            int
	BackoffBase, BackoffMax time.Duration
	// Reauth reports whether the user with this id may check her
	// password now (a change of password or second factor), and counts
	// the attempt: the transport's per-user throttle. Default: always.
	Reauth func(userID string) bool
	// Covers reports whether holder has every permission of role: an
	// API key with role acts for a holder only while it does. The
	// transport's route table decides it. Default: holder is role.
	Covers func(holder, role Role) bool
	// PasswordChecked, when set (by tests), runs in Login between the
	// password check and what Login does with the result.
	PasswordChecked func()
	// The audit log (auditlog.go, checkpoints.go). AuditKey signs
	// checkpoints of the audit chain's head and its public half
	// verifies them; nil: no checkpoints. CheckpointEvery is how many
	// entries past the last checkpoint CheckpointAudit signs the head
	// (default 1000).
	AuditKey        ed25519.PrivateKey
	CheckpointEvery int
	// Devices: DeviceSession is how long an enrolled or renewed device's
	// session lasts. Default 12 hours.
	DeviceSession time.Duration
}

// Service is the console's operations over one store.
type Service struct {
	st   store.Store
	opts Options
	log  *slog.Logger

	// policyMu serialises policy changes (save, rollback, delete) with
	// their check of the whole enabled set (policies).
	policyMu sync.Mutex
	// attach keeps what attachments are derived from (attachments).
	attach attachCache
	// Users and sign-in (mfa.go):
	box          *sealer // seals TOTP secrets (see sealedsecret.go)
	ephemeralKey bool    // box's key is this process's own
	// Caches of the insight reads (names.go, summary.go).
	names nameCache
	sum   summaryCache
	// Gateways: the bundle members gateway events were checked
	// against, for the configuration version they were read at (see
	// bundlemembers.go).
	known knownMembers
	// quota serialises quota checks with creations (quotas.go).
	quota quotaLock
	// sessionMu serialises a sign-in's count of its user's sessions with
	// the session it makes (see SessionPolicy).
	sessionMu sync.Mutex
	// oidc caches the identity providers' discovery (oidc.go).
	oidc oidcCache
}

// New returns the operations over st.
func New(st store.Store, opts Options) (*Service, error) {
	if st == nil {
		return nil, errors.New("domain: nil store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Service{st: st, opts: opts, log: log}
	if err := s.initUsers(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// record appends one console action to the audit log. Failures are
// logged, not returned: the action itself already happened.
func (s *Service) record(ctx context.Context, a Actor, action, resource, effect string, detail any) {
	var d json.RawMessage
	if detail != nil {
		d, _ = json.Marshal(detail)
	}
	ev := store.AuditEvent{Time: s.now(), Actor: a.ID, Action: action, Resource: resource, Effect: effect, Detail: d}
	if _, _, err := s.st.AppendAudit(ctx, []store.AuditEvent{ev}); err != nil {
		s.log.Error("console: audit append failed", "action", action, "err", err)
		return
	}
	if s.opts.AuditAppended != nil {
		s.opts.AuditAppended(s.TenantID())
	}
}

// Store is what the operations run over: the console's store (SQLite
// or PostgreSQL), which the composition root opens and hands in. Only
// this package calls it.
type Store = store.Store
