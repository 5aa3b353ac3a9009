package domain

import (
	"context"
	"errors"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Console replicas over one shared database tell each other about live
// events and configuration changes through the store's notifications
// (PostgreSQL's LISTEN/NOTIFY); a store that is not shared (SQLite) has
// one console and none. These are the only ways a transport reaches
// the store's notification channels.

// MaxRelayPayload is the largest payload RelayLive sends.
const MaxRelayPayload = store.MaxNotifyPayload

// ErrNotReplicated is ListenReplicas on a store that no other console
// shares.
var ErrNotReplicated = errors.New("the store is not shared with other consoles")

// Replicated reports whether other consoles may share the store, so
// whether RelayLive and ListenReplicas carry anything.
func (s *Service) Replicated() bool { return s.st.Shared() }

// Replicas is how many consoles serve this installation's store now,
// counted by their ListenReplicas connections, this one included (so at
// least 1, and 1 when the store is not shared or cannot be asked): what
// a limit each replica enforces alone is divided by. One query, on a
// view PostgreSQL keeps in memory.
func (s *Service) Replicas(ctx context.Context) int {
	if !s.Replicated() {
		return 1
	}
	n, err := s.st.Replicas(ctx)
	if err != nil {
		return 1
	}
	return max(n, 1)
}

// ConfigVersion is the configuration version: it moves with every
// change a gateway's bundle depends on, whichever console made it.
func (s *Service) ConfigVersion(ctx context.Context) (int64, error) {
	v, err := s.st.ConfigVersion(ctx)
	return v, fromStore(err)
}

// RelayLive sends payloads, each at most MaxRelayPayload bytes, to the
// other consoles' ListenReplicas Live handlers.
func (s *Service) RelayLive(ctx context.Context, payloads []string) error {
	return s.st.Notify(ctx, store.ChannelLive, payloads)
}

// ReplicaHandlers receive what ListenReplicas hears.
type ReplicaHandlers struct {
	// Ready is called once listening, and again after each reconnect:
	// what was sent in between is lost.
	Ready func()
	// Config is called with a tenant's id when another console moved
	// that tenant's configuration version.
	Config func(tenant string)
	// Live is called with each payload a console (this one included)
	// relayed.
	Live func(payload string)
}

// ListenReplicas listens to the other consoles until ctx ends or the
// connection fails, and returns why; ErrNotReplicated at once when the
// store is not shared. The caller reconnects by calling it again.
func (s *Service) ListenReplicas(ctx context.Context, h ReplicaHandlers) error {
	err := s.st.Listen(ctx, []string{store.ChannelLive, store.ChannelConfig}, h.Ready, func(channel, payload string) {
		switch channel {
		case store.ChannelConfig:
			if payload == "" {
				payload = DefaultTenant
			}
			h.Config(payload)
		case store.ChannelLive:
			h.Live(payload)
		}
	})
	if errors.Is(err, store.ErrUnsupported) {
		return ErrNotReplicated
	}
	return err
}
