package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
)

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// ValidName reports whether s may name a resource, policy or gateway.
func ValidName(s string) bool { return nameRe.MatchString(s) }

// PutResource creates or replaces a resource by name.
func (s *DB) PutResource(ctx context.Context, r *Resource) error {
	if !ValidName(r.Name) || r.Kind == "" {
		return fmt.Errorf("%w: resource needs a name ([A-Za-z0-9_.:-]) and a kind", ErrInvalid)
	}
	labels, _ := json.Marshal(r.Labels)
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO resources (name, kind, address, port, labels_json, gateway, note) VALUES (?,?,?,?,?,?,?)
ON CONFLICT (name) DO UPDATE SET kind=excluded.kind, address=excluded.address, port=excluded.port, labels_json=excluded.labels_json, gateway=excluded.gateway, note=excluded.note`,
			r.Name, r.Kind, r.Address, r.Port, string(labels), r.Gateway, r.Note); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
}

// DeleteResource removes a resource.
func (s *DB) DeleteResource(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := s.exec(ctx, tx, `DELETE FROM resources WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.bump(ctx, tx)
	})
}

func scanResource(sc interface{ Scan(...any) error }) (*Resource, error) {
	var r Resource
	var labels string
	if err := sc.Scan(&r.Name, &r.Kind, &r.Address, &r.Port, &labels, &r.Gateway, &r.Note); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(labels), &r.Labels)
	return &r, nil
}

// Resource returns one resource by name.
func (s *DB) Resource(ctx context.Context, name string) (*Resource, error) {
	r, err := scanResource(s.row(ctx, s.db, `SELECT name, kind, address, port, labels_json, gateway, note FROM resources WHERE name = ?`, name))
	return r, s.wrap(err)
}

// ListResources pages through resources by name.
func (s *DB) ListResources(ctx context.Context, o ListOptions) ([]Resource, error) {
	rows, err := s.query(ctx, s.db, `SELECT name, kind, address, port, labels_json, gateway, note FROM resources WHERE name > ? AND (? = '' OR lower(name) LIKE ? ESCAPE '\' OR lower(address) LIKE ? ESCAPE '\') ORDER BY name LIMIT ?`,
		o.After, o.Query, like(o.Query), like(o.Query), o.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Resource{}
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *r)
	}
	return out, s.wrap(rows.Err())
}

// SavePolicy stores source as the next version of the policy (creating it
// at version 1) and makes it current. Earlier versions are kept.
func (s *DB) SavePolicy(ctx context.Context, name, source, author, message string) (*PolicyVersion, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: policy name %q", ErrInvalid, name)
	}
	pv := &PolicyVersion{Name: name, Source: source, Author: author, Message: message, Time: nowUTC()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var cur int
		err := s.row(ctx, tx, `SELECT COALESCE(MAX(version), 0) FROM policy_versions WHERE name = ?`, name).Scan(&cur)
		if err != nil {
			return s.wrap(err)
		}
		pv.Version = cur + 1
		if _, err := s.exec(ctx, tx, `INSERT INTO policy_versions (name, version, source, author, message, time) VALUES (?,?,?,?,?,?)`,
			name, pv.Version, source, author, message, nanos(pv.Time)); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO policies (name, version, enabled) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version`,
			name, pv.Version, true); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return pv, nil
}

const policyJoin = `SELECT p.name, p.version, p.enabled, v.source, v.author, v.message, v.time FROM policies p JOIN policy_versions v ON v.name = p.name AND v.version = p.version`

func scanPolicy(sc interface{ Scan(...any) error }) (*Policy, error) {
	var p Policy
	var t int64
	if err := sc.Scan(&p.Name, &p.Version, &p.Enabled, &p.Source, &p.Author, &p.Message, &t); err != nil {
		return nil, err
	}
	p.Time = fromNanos(t)
	return &p, nil
}

// Policy returns a policy at its current version.
func (s *DB) Policy(ctx context.Context, name string) (*Policy, error) {
	p, err := scanPolicy(s.row(ctx, s.db, policyJoin+` WHERE p.name = ?`, name))
	return p, s.wrap(err)
}

// ListPolicies pages through policies by name.
func (s *DB) ListPolicies(ctx context.Context, o ListOptions) ([]Policy, error) {
	rows, err := s.query(ctx, s.db, policyJoin+` WHERE p.name > ? AND (? = '' OR lower(p.name) LIKE ? ESCAPE '\' OR lower(v.source) LIKE ? ESCAPE '\') ORDER BY p.name LIMIT ?`,
		o.After, o.Query, like(o.Query), like(o.Query), o.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *p)
	}
	return out, s.wrap(rows.Err())
}

// PolicyVersions lists every version of a policy, newest first.
func (s *DB) PolicyVersions(ctx context.Context, name string) ([]PolicyVersion, error) {
	rows, err := s.query(ctx, s.db, `SELECT name, version, source, author, message, time FROM policy_versions WHERE name = ? ORDER BY version DESC`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []PolicyVersion{}
	for rows.Next() {
		var v PolicyVersion
		var t int64
		if err := rows.Scan(&v.Name, &v.Version, &v.Source, &v.Author, &v.Message, &t); err != nil {
			return nil, s.wrap(err)
		}
		v.Time = fromNanos(t)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// PolicyVersion returns one version of a policy.
func (s *DB) PolicyVersion(ctx context.Context, name string, version int) (*PolicyVersion, error) {
	var v PolicyVersion
	var t int64
	err := s.row(ctx, s.db, `SELECT name, version, source, author, message, time FROM policy_versions WHERE name = ? AND version = ?`, name, version).
		Scan(&v.Name, &v.Version, &v.Source, &v.Author, &v.Message, &t)
	if err != nil {
		return nil, s.wrap(err)
	}
	v.Time = fromNanos(t)
	return &v, nil
}

// DeletePolicy stops a policy from being current; its versions stay in
// the history so that the audit trail keeps what was enforced.
func (s *DB) DeletePolicy(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := s.exec(ctx, tx, `DELETE FROM policies WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return s.bump(ctx, tx)
	})
}
