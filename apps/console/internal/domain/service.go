package domain

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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
	// AuditAppended, when set, is called after audit entries are
	// appended (the checkpointer's wake-up).
	AuditAppended func()

	// Devices: DeviceSession is how long an enrolled or renewed device's
	// session lasts. Default 12 hours.
	DeviceSession time.Duration
}

// Service is the console's operations over one store.
type Service struct {
	st   store.Store
	opts Options
	log  *slog.Logger

	// Gateways: the bundle members gateway events were checked
	// against, for the configuration version they were read at (see
	// bundlemembers.go).
	known knownMembers
}

// New returns the operations over st.
func New(st store.Store, opts Options) (*Service, error) {
	if st == nil {
		return nil, errors.New("domain: nil store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{st: st, opts: opts, log: log}, nil
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
		s.opts.AuditAppended()
	}
}
