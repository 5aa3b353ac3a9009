package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const gatewayCols = `id, name, token_hash, token_expires, secret_hash, registered, revoked, last_seen, bundle_version, status, created`

func scanGateway(sc interface{ Scan(...any) error }) (*Gateway, error) {
	var g Gateway
	var exp, reg, seen, created int64
	var status string
	if err := sc.Scan(&g.ID, &g.Name, &g.TokenHash, &exp, &g.SecretHash, &reg, &g.Revoked, &seen, &g.BundleVersion, &status, &created); err != nil {
		return nil, err
	}
	g.TokenExpires, g.Registered, g.LastSeen, g.Created = fromNanos(exp), fromNanos(reg), fromNanos(seen), fromNanos(created)
	if status != "" {
		g.Status = []byte(status)
	}
	return &g, nil
}

// CreateGateway adds a gateway awaiting registration with g.TokenHash.
func (s *DB) CreateGateway(ctx context.Context, g *Gateway) error {
	if !ValidName(g.Name) || g.TokenHash == "" {
		return fmt.Errorf("%w: gateway needs a name and a token", ErrInvalid)
	}
	if g.ID == "" {
		g.ID = NewID("g")
	}
	if g.Created.IsZero() {
		g.Created = nowUTC()
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO gateways (`+gatewayCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		g.ID, g.Name, g.TokenHash, nanos(g.TokenExpires), "", int64(0), false, int64(0), int64(0), "", nanos(g.Created))
	return err
}

// RegisterGateway consumes the one-time token whose hash is tokenHash and
// sets the gateway's credential hash. A token works once and not after it
// expires.
func (s *DB) RegisterGateway(ctx context.Context, tokenHash, secretHash string, now time.Time) (*Gateway, error) {
	var g *Gateway
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := s.exec(ctx, tx, `UPDATE gateways SET token_hash = '', secret_hash = ?, registered = ? WHERE token_hash = ? AND token_hash <> '' AND revoked = ? AND (token_expires = 0 OR token_expires > ?)`,
			secretHash, nanos(now), tokenHash, false, nanos(now))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return ErrTokenUsed
		}
		g, err = scanGateway(s.row(ctx, tx, `SELECT `+gatewayCols+` FROM gateways WHERE secret_hash = ? AND registered = ?`, secretHash, nanos(now)))
		return s.wrap(err)
	})
	return g, err
}

// Gateway returns one gateway.
func (s *DB) Gateway(ctx context.Context, id string) (*Gateway, error) {
	g, err := scanGateway(s.row(ctx, s.db, `SELECT `+gatewayCols+` FROM gateways WHERE id = ?`, id))
	return g, s.wrap(err)
}

// ListGateways returns every gateway by name.
func (s *DB) ListGateways(ctx context.Context) ([]Gateway, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+gatewayCols+` FROM gateways ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Gateway{}
	for rows.Next() {
		g, err := scanGateway(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *g)
	}
	return out, s.wrap(rows.Err())
}

// UpdateGatewayStatus records a heartbeat.
func (s *DB) UpdateGatewayStatus(ctx context.Context, id string, seen time.Time, bundle int64, status []byte) error {
	r, err := s.exec(ctx, s.db, `UPDATE gateways SET last_seen = ?, bundle_version = ?, status = ? WHERE id = ?`, nanos(seen), bundle, string(status), id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RevokeGateway refuses the gateway's credential from now on.
func (s *DB) RevokeGateway(ctx context.Context, id string) error {
	r, err := s.exec(ctx, s.db, `UPDATE gateways SET revoked = ?, token_hash = '' WHERE id = ?`, true, id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
