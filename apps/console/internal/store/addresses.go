package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
)

// AllocateDevice inserts d like CreateDevice, giving it the lowest free
// address of pool (an IPv4 prefix; the network address, .1 for the
// gateway and the broadcast address are never handed out). The
// allocation, the quota check and the insert share one transaction that
// first takes the configuration row lock, so concurrent enrolments on
// one or many consoles are serialised and cannot share an address; the
// unique index on (network, address) backs this up. quota, when
// positive, is the most devices d.Owner may hold; reaching it returns
// ErrQuota, and a pool with no free address returns ErrPoolFull.
func (s *DB) AllocateDevice(ctx context.Context, d *Device, pool netip.Prefix, quota int) error {
	if d.PublicKey == "" || d.Owner == "" {
		return fmt.Errorf("%w: device needs an owner and a public key", ErrInvalid)
	}
	if !pool.IsValid() || !pool.Addr().Is4() {
		return fmt.Errorf("%w: address pool must be an ipv4 prefix", ErrInvalid)
	}
	pool = pool.Masked()
	if d.ID == "" {
		d.ID = NewID("d")
	}
	if d.Created.IsZero() {
		d.Created = nowUTC()
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The bump comes first: its row lock is what serialises allocators.
		if err := s.bump(ctx, tx); err != nil {
			return err
		}
		if quota > 0 {
			var n int
			if err := s.row(ctx, tx, `SELECT COUNT(*) FROM devices WHERE owner = ?`, d.Owner).Scan(&n); err != nil {
				return s.wrap(err)
			}
			if n >= quota {
				return fmt.Errorf("%w: %d devices", ErrQuota, quota)
			}
		}
		taken, err := s.takenAddresses(ctx, tx)
		if err != nil {
			return err
		}
		a, ok := freeAddress(pool, taken)
		if !ok {
			return fmt.Errorf("%w: %s", ErrPoolFull, pool)
		}
		d.Address, d.Network = netip.PrefixFrom(a, 32).String(), pool.String()
		_, err = s.exec(ctx, tx, `INSERT INTO devices (`+deviceCols+`) VALUES (`+devicePlaceholders+`)`, deviceArgs(d)...)
		return err
	})
}

// takenAddresses is every device address in the store, whatever pool it
// came from, so that hand-set addresses are not handed out again.
func (s *DB) takenAddresses(ctx context.Context, tx *sql.Tx) (map[netip.Addr]bool, error) {
	rows, err := s.query(ctx, tx, `SELECT address FROM devices`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	taken := map[netip.Addr]bool{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, s.wrap(err)
		}
		if p, err := netip.ParsePrefix(a); err == nil {
			taken[p.Addr()] = true
		} else if ip, err := netip.ParseAddr(a); err == nil {
			taken[ip] = true
		}
	}
	return taken, s.wrap(rows.Err())
}

// freeAddress is the lowest address of pool from .2 up, short of the
// broadcast address, that is not taken.
func freeAddress(pool netip.Prefix, taken map[netip.Addr]bool) (netip.Addr, bool) {
	a := pool.Addr().Next()
	if !a.IsValid() {
		return netip.Addr{}, false
	}
	for a = a.Next(); a.IsValid() && pool.Contains(a); a = a.Next() {
		if n := a.Next(); !n.IsValid() || !pool.Contains(n) {
			break // the broadcast address
		}
		if !taken[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// dedupeAddresses is the backfill of the migration that adds the unique
// index on (network, address): devices whose address lies in pool get
// the pool as their network, and every device after the first (by
// creation, then id) that shares an address is moved to the lowest free
// one. A pool too small for that fails the migration with a message.
func dedupeAddresses(ctx context.Context, s *DB, tx *sql.Tx) error {
	def := "100.64.0.0/10"
	var v string
	// The key is the console's wireguard.network setting.
	if err := s.row(ctx, tx, `SELECT value FROM settings WHERE key = ?`, "wireguard.network").Scan(&v); err == nil && v != "" {
		def = v
	}
	pool, err := netip.ParsePrefix(def)
	if err != nil || !pool.Addr().Is4() {
		return fmt.Errorf("setting wireguard.network %q is not an ipv4 prefix; fix it before upgrading", def)
	}
	pool = pool.Masked()
	type dev struct{ id, address string }
	rows, err := s.query(ctx, tx, `SELECT id, address FROM devices ORDER BY created, id`)
	if err != nil {
		return err
	}
	var ds []dev
	for rows.Next() {
		var d dev
		if err := rows.Scan(&d.id, &d.address); err != nil {
			rows.Close()
			return s.wrap(err)
		}
		ds = append(ds, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap(err)
	}
	taken := map[netip.Addr]bool{}
	var dups []dev
	for _, d := range ds {
		p, err := netip.ParsePrefix(d.address)
		if err != nil || !pool.Contains(p.Addr()) {
			continue
		}
		if taken[p.Addr()] {
			dups = append(dups, d)
			continue
		}
		taken[p.Addr()] = true
		if _, err := s.exec(ctx, tx, `UPDATE devices SET network = ? WHERE id = ?`, pool.String(), d.id); err != nil {
			return err
		}
	}
	for _, d := range dups {
		a, ok := freeAddress(pool, taken)
		if !ok {
			return fmt.Errorf("devices share tunnel addresses and pool %s has no room to move device %s; widen wireguard.network", pool, d.id)
		}
		taken[a] = true
		if _, err := s.exec(ctx, tx, `UPDATE devices SET network = ?, address = ? WHERE id = ?`, pool.String(), netip.PrefixFrom(a, 32).String(), d.id); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `CREATE UNIQUE INDEX devices_network_address ON devices (network, address) WHERE network <> ''`)
	return err
}
