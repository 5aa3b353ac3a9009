package store

import (
	"context"
	"fmt"
	"time"
)

// IdentityProvider is an OpenID Connect provider a tenant's people sign
// in with. ClientSecret is as the domain gives it (sealed); the store
// never reads it.
type IdentityProvider struct {
	ID, Name, Issuer string
	ClientID         string
	ClientSecret     string
	Scopes           string // space-separated
	TrustEmail       bool
	Provisioning     string // "jit" or "invite"
	DefaultRole      Role
	Created          time.Time
}

const idpColumns = `id, name, issuer, client_id, client_secret, scopes, trust_email, provisioning, default_role, created`

func scanIdentityProvider(sc interface{ Scan(...any) error }) (*IdentityProvider, error) {
	var p IdentityProvider
	var c int64
	if err := sc.Scan(&p.ID, &p.Name, &p.Issuer, &p.ClientID, &p.ClientSecret, &p.Scopes, &p.TrustEmail, &p.Provisioning, &p.DefaultRole, &c); err != nil {
		return nil, err
	}
	p.Created = fromNanos(c)
	return &p, nil
}

// CreateIdentityProvider stores p, giving it an id when it has none.
func (s *DB) CreateIdentityProvider(ctx context.Context, p *IdentityProvider) error {
	if p.Issuer == "" || p.ClientID == "" {
		return fmt.Errorf("%w: identity provider needs an issuer and a client id", ErrInvalid)
	}
	if p.ID == "" {
		p.ID = NewID("idp")
	}
	if p.Created.IsZero() {
		p.Created = nowUTC()
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO identity_providers (`+idpColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		p.ID, p.Name, p.Issuer, p.ClientID, p.ClientSecret, p.Scopes, p.TrustEmail, p.Provisioning, string(p.DefaultRole), nanos(p.Created))
	return s.wrap(err)
}

// IdentityProvider returns one provider by id.
func (s *DB) IdentityProvider(ctx context.Context, id string) (*IdentityProvider, error) {
	p, err := scanIdentityProvider(s.row(ctx, s.db, `SELECT `+idpColumns+` FROM identity_providers WHERE id = ?`, id))
	return p, s.wrap(err)
}

// ListIdentityProviders returns every provider, oldest first.
func (s *DB) ListIdentityProviders(ctx context.Context) ([]IdentityProvider, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+idpColumns+` FROM identity_providers ORDER BY created, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []IdentityProvider{}
	for rows.Next() {
		p, err := scanIdentityProvider(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, *p)
	}
	return out, s.wrap(rows.Err())
}

// UpdateIdentityProvider replaces the row of p.ID with p.
func (s *DB) UpdateIdentityProvider(ctx context.Context, p *IdentityProvider) error {
	r, err := s.exec(ctx, s.db, `UPDATE identity_providers SET name = ?, issuer = ?, client_id = ?, client_secret = ?, scopes = ?, trust_email = ?, provisioning = ?, default_role = ? WHERE id = ?`,
		p.Name, p.Issuer, p.ClientID, p.ClientSecret, p.Scopes, p.TrustEmail, p.Provisioning, string(p.DefaultRole), p.ID)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteIdentityProvider removes a provider.
func (s *DB) DeleteIdentityProvider(ctx context.Context, id string) error {
	r, err := s.exec(ctx, s.db, `DELETE FROM identity_providers WHERE id = ?`, id)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
