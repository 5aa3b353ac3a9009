package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

func nowUTC() time.Time { return time.Now().UTC() }

// userCols are the users columns a User is read from. failed_logins
// and locked_until are no longer read or written: failed logins are
// counted per account and source in login_failures (see
// loginfailures.go), so that a login never writes the user row.
const userCols = `id, email, name, role, groups_json, password_hash, totp_secret, totp_enabled, recovery_json, disabled, created, version`

func scanUser(sc interface{ Scan(...any) error }) (*User, error) {
	var u User
	var groups, rec string
	var created int64
	if err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &groups, &u.PasswordHash, &u.TOTPSecret, &u.TOTPEnabled, &rec, &u.Disabled, &created, &u.Version); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(groups), &u.Groups)
	json.Unmarshal([]byte(rec), &u.Recovery)
	if u.Groups == nil {
		u.Groups = []string{}
	}
	u.Created = fromNanos(created)
	return &u, nil
}

func userArgs(u *User) []any {
	g, _ := json.Marshal(orEmpty(u.Groups))
	r, _ := json.Marshal(orEmpty(u.Recovery))
	return []any{u.ID, strings.ToLower(u.Email), u.Name, string(u.Role), string(g), u.PasswordHash, u.TOTPSecret, u.TOTPEnabled, string(r), u.Disabled, nanos(u.Created), u.Version}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CreateUser inserts u, filling in ID and Created when empty, at
// version 0.
func (s *DB) CreateUser(ctx context.Context, u *User) error {
	if u.Email == "" || !u.Role.Valid() {
		return fmt.Errorf("%w: user needs an email and a valid role", ErrInvalid)
	}
	if u.ID == "" {
		u.ID = NewID("u")
	}
	if u.Created.IsZero() {
		u.Created = nowUTC()
	}
	u.Version = 0
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO users (`+userCols+`, failed_logins, locked_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,0)`, userArgs(u)...); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
}

// UpdateUser replaces the fields of the user with u's, except the second
// factor (TOTPSecret, TOTPEnabled, Recovery), which only the targeted
// methods of mfa.go change, provided the row is still at u.Version
// (compare and swap), and moves u.Version on. When the row changed since u
// was read it returns ErrStale and changes nothing, so a read-modify-write
// never overwrites a concurrent change (a disable, a demotion, a password
// reset) with stale fields, and a stale copy never brings back a consumed
// recovery code or a replaced secret.
func (s *DB) UpdateUser(ctx context.Context, u *User) error {
	if !u.Role.Valid() {
		return fmt.Errorf("%w: role %q", ErrInvalid, u.Role)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		a := userArgs(u)
		args := append(append([]any{}, a[1:6]...), a[9], u.ID, u.Version)
		r, err := s.exec(ctx, tx, `UPDATE users SET email=?, name=?, role=?, groups_json=?, password_hash=?, disabled=?, version=version+1 WHERE id=? AND version=?`, args...)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return s.missingOrStale(ctx, tx, u.ID)
		}
		return s.bump(ctx, tx)
	})
	if err == nil {
		u.Version++
	}
	return err
}

// missingOrStale explains why a compare-and-swap update of user id
// changed no row.
func (s *DB) missingOrStale(ctx context.Context, tx *sql.Tx, id string) error {
	var n int
	if err := s.row(ctx, tx, `SELECT COUNT(*) FROM users WHERE id = ?`, id).Scan(&n); err != nil {
		return s.wrap(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return fmt.Errorf("%w: user %s", ErrStale, id)
}

// User returns one user by id.
func (s *DB) User(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.row(ctx, s.db, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, s.wrap(err)
}

// UserByEmail returns one user by email, case-insensitively.
func (s *DB) UserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.row(ctx, s.db, `SELECT `+userCols+` FROM users WHERE email = ?`, strings.ToLower(email)))
	return u, s.wrap(err)
}

// ListUsers pages through users by id.
func (s *DB) ListUsers(ctx context.Context, o ListOptions) ([]User, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+userCols+` FROM users WHERE id > ? AND (? = '' OR lower(email) LIKE ? ESCAPE '\' OR lower(name) LIKE ? ESCAPE '\') ORDER BY id LIMIT ?`,
		o.After, o.Query, like(o.Query), like(o.Query), o.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *u)
	}
	return out, s.wrap(rows.Err())
}

// PutGroup creates or updates a group.
func (s *DB) PutGroup(ctx context.Context, g Group) error {
	if g.Name == "" {
		return fmt.Errorf("%w: group needs a name", ErrInvalid)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO groups (name, description) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET description = excluded.description`, g.Name, g.Description); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
}

// DeleteGroup removes a group (users keep the name in their list).
func (s *DB) DeleteGroup(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := s.exec(ctx, tx, `DELETE FROM groups WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.bump(ctx, tx)
	})
}

// ListGroups returns every group by name.
func (s *DB) ListGroups(ctx context.Context) ([]Group, error) {
	rows, err := s.query(ctx, s.db, `SELECT name, description FROM groups ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Group{}
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Name, &g.Description); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, g)
	}
	return out, s.wrap(rows.Err())
}

const deviceCols = `id, name, owner, public_key, address, posture, disabled, created, last_seen, session_expires, mfa_time, network, posture_source`

const devicePlaceholders = `?,?,?,?,?,?,?,?,?,?,?,?,?`

func scanDevice(sc interface{ Scan(...any) error }) (*Device, error) {
	var d Device
	var posture string
	var created, seen, exp, mfa int64
	if err := sc.Scan(&d.ID, &d.Name, &d.Owner, &d.PublicKey, &d.Address, &posture, &d.Disabled, &created, &seen, &exp, &mfa, &d.Network, &d.PostureSource); err != nil {
		return nil, err
	}
	if posture != "" {
		d.Posture = json.RawMessage(posture)
	}
	d.Created, d.LastSeen, d.SessionExpires, d.MFATime = fromNanos(created), fromNanos(seen), fromNanos(exp), fromNanos(mfa)
	return &d, nil
}

func deviceArgs(d *Device) []any {
	return []any{d.ID, d.Name, d.Owner, d.PublicKey, d.Address, string(d.Posture), d.Disabled, nanos(d.Created), nanos(d.LastSeen), nanos(d.SessionExpires), nanos(d.MFATime), d.Network, d.PostureSource}
}

// CreateDevice inserts d, filling in ID and Created when empty. Public
// keys are unique.
func (s *DB) CreateDevice(ctx context.Context, d *Device) error {
	if d.PublicKey == "" || d.Owner == "" {
		return fmt.Errorf("%w: device needs an owner and a public key", ErrInvalid)
	}
	if d.ID == "" {
		d.ID = NewID("d")
	}
	if d.Created.IsZero() {
		d.Created = nowUTC()
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO devices (`+deviceCols+`) VALUES (`+devicePlaceholders+`)`, deviceArgs(d)...); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
}

// BulkDevices inserts many devices in one transaction without bumping
// the configuration version per row; for seeding and benchmarks.
func (s *DB) BulkDevices(ctx context.Context, ds []Device) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		const per = 500
		for len(ds) > 0 {
			n := min(per, len(ds))
			var b strings.Builder
			b.WriteString(`INSERT INTO devices (` + deviceCols + `) VALUES `)
			args := make([]any, 0, n*13)
			for i := range ds[:n] {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`(` + devicePlaceholders + `)`)
				if ds[i].ID == "" {
					ds[i].ID = NewID("d")
				}
				args = append(args, deviceArgs(&ds[i])...)
			}
			if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
				return err
			}
			ds = ds[n:]
		}
		return s.bump(ctx, tx)
	})
}

// UpdateDevice replaces every field of the device with d's.
func (s *DB) UpdateDevice(ctx context.Context, d *Device) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		a := deviceArgs(d)
		r, err := s.exec(ctx, tx, `UPDATE devices SET name=?, owner=?, public_key=?, address=?, posture=?, disabled=?, created=?, last_seen=?, session_expires=?, mfa_time=?, network=?, posture_source=? WHERE id=?`, append(a[1:], a[0])...)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.bump(ctx, tx)
	})
}

// DeleteDevice removes a device; its address returns to the pool and the
// configuration version moves on, so gateways drop the peer with their
// next bundle.
func (s *DB) DeleteDevice(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := s.exec(ctx, tx, `DELETE FROM devices WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.bump(ctx, tx)
	})
}

// Device returns one device by id.
func (s *DB) Device(ctx context.Context, id string) (*Device, error) {
	d, err := scanDevice(s.row(ctx, s.db, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	return d, s.wrap(err)
}

// ListDevices pages through devices by id, optionally of one owner.
func (s *DB) ListDevices(ctx context.Context, owner string, o ListOptions) ([]Device, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+deviceCols+` FROM devices WHERE id > ? AND (? = '' OR owner = ?) AND (? = '' OR lower(name) LIKE ? ESCAPE '\' OR public_key = ?) ORDER BY id LIMIT ?`,
		o.After, owner, owner, o.Query, like(o.Query), o.Query, o.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *d)
	}
	return out, s.wrap(rows.Err())
}

// CountDevices counts every device.
func (s *DB) CountDevices(ctx context.Context) (int64, error) {
	var n int64
	err := s.row(ctx, s.db, `SELECT COUNT(*) FROM devices`).Scan(&n)
	return n, s.wrap(err)
}
