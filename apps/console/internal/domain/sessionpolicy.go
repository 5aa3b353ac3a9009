package domain

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Session policies: each tenant may set, per role, how long a web
// session lasts idle and at most, how many one user may hold at once
// (and whether a sign-in past that ends her oldest or is refused), and
// whether the role needs a second factor. The setting "sessions.<role>"
// holds them as space-separated fields, each optional:
//
//	idle=15m max=8h concurrent=3 when_full=refuse mfa=required
//
// Without a field the console's options decide (Options.SessionIdle and
// SessionMax, no limit on sessions, ending the oldest, no second factor
// needed). A role that needs a second factor signs in without one only
// to enrol one: until she signs in with it, her session reaches her own
// account and nothing else. API keys are not sessions; they have their
// own expiry.
//
// Consoles sharing a database each count a user's sessions on their
// own at sign-in, so concurrent sign-ins through two replicas may leave
// one session more than the limit until the next sign-in.

// A SessionPolicy bounds the web sessions of one role.
type SessionPolicy struct {
	Idle, Max time.Duration
	// Concurrent is how many sessions one user may hold; 0: any number.
	Concurrent int
	// RefuseWhenFull refuses a sign-in past Concurrent; otherwise the
	// user's oldest sessions end.
	RefuseWhenFull bool
	// RequireMFA: the role's sessions need a second factor.
	RequireMFA bool
}

// ReauthWindow is how long after a sign-in or a re-entry of the
// password a session may make the sensitive changes that want it fresh
// (roles, API keys, settings, support access, tenants).
const ReauthWindow = 5 * time.Minute

// ErrTooManySessions refuses a sign-in past the role's concurrent
// sessions when the policy says to refuse.
var ErrTooManySessions = errors.New("you hold as many sessions as your organisation allows; log out of one first")

// SettingSessionsPrefix is the prefix of the per-role session policy
// settings: "sessions.admin" and so on.
const SettingSessionsPrefix = "sessions."

// The bounds of the policy's durations.
const (
	minSessionIdle = time.Minute
	maxSessionMax  = 30 * 24 * time.Hour
)

// ParseSessionPolicy parses a session policy setting of key over def.
func ParseSessionPolicy(key, v string, def SessionPolicy) (SessionPolicy, error) {
	p := def
	seen := map[string]bool{}
	for _, f := range strings.Fields(v) {
		name, val, ok := strings.Cut(f, "=")
		if !ok || seen[name] {
			return def, fmt.Errorf("console: %s: %q is not one name=value of idle, max, concurrent, when_full, mfa", key, f)
		}
		seen[name] = true
		switch name {
		case "idle", "max":
			d, err := time.ParseDuration(val)
			if err != nil || d < minSessionIdle || d > maxSessionMax {
				return def, fmt.Errorf("console: %s: %s=%q is not a duration from 1m to 720h", key, name, val)
			}
			if name == "idle" {
				p.Idle = d
			} else {
				p.Max = d
			}
		case "concurrent":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 100 {
				return def, fmt.Errorf("console: %s: concurrent=%q is not a number from 0 (any) to 100", key, val)
			}
			p.Concurrent = n
		case "when_full":
			switch val {
			case "end_oldest":
				p.RefuseWhenFull = false
			case "refuse":
				p.RefuseWhenFull = true
			default:
				return def, fmt.Errorf("console: %s: when_full=%q is end_oldest or refuse", key, val)
			}
		case "mfa":
			switch val {
			case "required":
				p.RequireMFA = true
			case "optional":
				p.RequireMFA = false
			default:
				return def, fmt.Errorf("console: %s: mfa=%q is required or optional", key, val)
			}
		default:
			return def, fmt.Errorf("console: %s: %q is not one of idle, max, concurrent, when_full, mfa", key, name)
		}
	}
	if p.Idle > p.Max {
		return def, fmt.Errorf("console: %s: idle (%s) is longer than max (%s)", key, p.Idle, p.Max)
	}
	return p, nil
}

// defaultSessionPolicy is the policy without a setting.
func (s *Service) defaultSessionPolicy() SessionPolicy {
	return SessionPolicy{Idle: s.opts.SessionIdle, Max: s.opts.SessionMax}
}

// SessionPolicy is the tenant's session policy of role; a stored value
// that no longer parses gives the defaults, logged.
func (s *Service) SessionPolicy(ctx context.Context, role Role) SessionPolicy {
	def := s.defaultSessionPolicy()
	key := SettingSessionsPrefix + string(role)
	v := s.Setting(ctx, key, "")
	if v == "" {
		return def
	}
	p, err := ParseSessionPolicy(key, v, def)
	if err != nil {
		s.log.Error("console: ignoring a session policy that does not parse", "key", key, "err", err)
	}
	return p
}

// sessionPolicySpecs are the session policy settings, one per role.
func sessionPolicySpecs() []settingSpec {
	out := make([]settingSpec, len(Roles))
	for i, r := range Roles {
		key := SettingSessionsPrefix + string(r)
		out[i] = settingSpec{key: key,
			doc: "web sessions of the " + string(r) + " role: idle=<duration> max=<duration> concurrent=<n> when_full=end_oldest|refuse mfa=required|optional; empty: the console's defaults",
			check: func(v string) error {
				_, err := ParseSessionPolicy(key, v, SessionPolicy{Idle: 30 * time.Minute, Max: 12 * time.Hour})
				return err
			},
			guard: func(a Actor, v string) error {
				p, _ := ParseSessionPolicy(key, v, SessionPolicy{})
				// An API key (whose actor id is not its owner's) is no
				// session, and no session policy binds it.
				if p.RequireMFA && a.Role == r && !a.MFA && a.ID == a.UserID {
					return &ConflictError{Code: "lockout", Field: "value",
						Message: "this would need a second factor of your own sessions, and you signed in without one; enrol one and sign in with it first"}
				}
				return nil
			}}
	}
	return out
}

// enforceConcurrent applies the policy's limit on a user's sessions to
// a sign-in about to make one more: it refuses it (ErrTooManySessions)
// or ends her oldest sessions so that the new one is within the limit.
// Sessions past their timeouts are ended on the way and not counted.
// Callers hold s.sessionMu.
func (s *Service) enforceConcurrent(ctx context.Context, userID string, p SessionPolicy, now time.Time) error {
	if p.Concurrent == 0 {
		return nil
	}
	all, err := s.st.UserSessions(ctx, userID)
	if err != nil {
		return fromStore(err)
	}
	live := all[:0]
	for _, se := range all {
		if now.Sub(se.LastSeen) > p.Idle || now.Sub(se.Created) > p.Max {
			s.st.DeleteSession(ctx, se.ID)
			continue
		}
		live = append(live, se)
	}
	if len(live) < p.Concurrent {
		return nil
	}
	if p.RefuseWhenFull {
		return ErrTooManySessions
	}
	for _, se := range live[:len(live)-p.Concurrent+1] {
		s.st.DeleteSession(ctx, se.ID)
	}
	s.record(ctx, Actor{ID: userID, UserID: userID}, "session.ended_oldest", "", "", map[string]int{"ended": len(live) - p.Concurrent + 1, "limit": p.Concurrent})
	return nil
}

// Fresh reports whether the session signed in or re-entered its
// password within ReauthWindow of now.
func (se Session) Fresh(now time.Time) bool {
	last := se.Created
	if se.Reauth.After(last) {
		last = se.Reauth
	}
	return now.Sub(last) <= ReauthWindow
}

// Reauthenticate checks a's password (and second factor, if she has
// one) again, and marks her session sessionID fresh for ReauthWindow.
func (s *Service) Reauthenticate(ctx context.Context, a Actor, sessionID, password, code string) error {
	if !a.isUser() {
		return errNoAccount
	}
	if _, err := s.reauthenticate(ctx, a.UserID, password, code); err != nil {
		return err
	}
	if err := s.st.SetSessionReauth(ctx, sessionID, s.now()); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "reauth", "", "", nil)
	return nil
}
