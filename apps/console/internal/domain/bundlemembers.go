package domain

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// errOutsideBundle refuses an event or risk report about a subject or
// device that the gateway was never sent.
var errOutsideBundle = errors.New("not in the gateway's bundle")

// errBadRisk refuses a risk report that no gateway makes.
var errBadRisk = errors.New("console: bad risk report")

// checkRisk refuses a status whose risk list is longer than
// controlplane.MaxRisk, holds a score outside 1..100, or names a subject
// outside the gateway's bundle: a gateway raises risk only for the users
// it decides for. Other errors are the store's.
func checkRisk(ctx context.Context, m *bundleMembers, rs []controlplane.SubjectRisk) error {
	if len(rs) > controlplane.MaxRisk {
		return fmt.Errorf("%w: %d subjects, at most %d", errBadRisk, len(rs), controlplane.MaxRisk)
	}
	for _, r := range rs {
		if r.Score < 1 || r.Score > 100 {
			return fmt.Errorf("%w: subject %q: score %d outside 1..100", errBadRisk, clip(r.Subject), r.Score)
		}
		ok, err := m.user(ctx, r.Subject)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("console: risk for subject %q: %w", clip(r.Subject), errOutsideBundle)
		}
	}
	return nil
}

// bundleMembers answers whether subjects and devices are in the bundle
// the console sends a gateway. Every gateway's bundle holds every user
// and every device (see Service.Bundle), so membership is existence in
// the store; should bundles ever narrow per gateway, this is the rule
// that must follow.
type bundleMembers struct {
	st    store.Store
	known *knownMembers
	// version is the configuration version when the request began;
	// what the store says is remembered under it.
	version int64
}

// knownMembers remembers, for one configuration version, the users and
// devices found in the store, so that a gateway's stream of events does
// not read the same rows for every batch. Only what exists is
// remembered: a subject not found is read again next time, since a
// gateway may hold a bundle newer than the version this console has
// seen yet. Every change to users or devices moves the version, which
// empties it.
type knownMembers struct {
	mu      sync.Mutex // guards the fields below
	version int64
	users   map[string]struct{}
	owners  map[string]string // device ID to owner
}

// maxKnownMembers bounds knownMembers; past it, it starts afresh.
const maxKnownMembers = 100000

func (k *knownMembers) lookup(version int64, user, device string) (userKnown bool, owner string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if version == 0 || k.version != version {
		return false, ""
	}
	_, userKnown = k.users[user]
	return userKnown, k.owners[device]
}

func (k *knownMembers) remember(version int64, user, device, owner string) {
	if version == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.version != version || len(k.users)+len(k.owners) >= maxKnownMembers {
		k.version, k.users, k.owners = version, map[string]struct{}{}, map[string]string{}
	}
	if user != "" {
		k.users[user] = struct{}{}
	}
	if device != "" {
		k.owners[device] = owner
	}
}

// bundleMembers is the membership check of one request that began at
// configuration version (0: unknown, nothing is remembered).
func (s *Service) bundleMembers(version int64) *bundleMembers {
	return &bundleMembers{st: s.st, known: &s.known, version: version}
}

// user reports whether id is a user of the bundle.
func (m *bundleMembers) user(ctx context.Context, id string) (bool, error) {
	if ok, _ := m.known.lookup(m.version, id, ""); ok {
		return true, nil
	}
	_, err := m.st.User(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	m.known.remember(m.version, id, "", "")
	return true, nil
}

// owner returns the owner of device id, or "" when the bundle has no such
// device.
func (m *bundleMembers) owner(ctx context.Context, id string) (string, error) {
	if _, o := m.known.lookup(m.version, "", id); o != "" {
		return o, nil
	}
	d, err := m.st.Device(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	m.known.remember(m.version, "", id, d.Owner)
	return d.Owner, nil
}

// check refuses, with an error wrapping errOutsideBundle, a subject that
// is not a user of the bundle, a device that is not one of its devices,
// and a device with a subject other than its owner. Other errors are the
// store's.
func (m *bundleMembers) check(ctx context.Context, subject, device string) error {
	if subject != "" {
		ok, err := m.user(ctx, subject)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("subject %q: %w", clip(subject), errOutsideBundle)
		}
	}
	if device != "" {
		owner, err := m.owner(ctx, device)
		if err != nil {
			return err
		}
		if owner == "" {
			return fmt.Errorf("device %q: %w", clip(device), errOutsideBundle)
		}
		if subject != "" && owner != subject {
			return fmt.Errorf("device %q belongs to another subject than %q: %w", clip(device), clip(subject), errOutsideBundle)
		}
	}
	return nil
}
