package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuditCheckpoint is a signed statement that the audit chain's entry Seq
// had the hash Hash at Time. The chain links every entry to the one
// before it, so a checkpoint vouches for the whole log up to Seq: an
// entry changed, removed or re-chained before it no longer ends in Hash.
// The signature is Ed25519 over CheckpointMessage, with a key kept outside
// the database.
type AuditCheckpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
}

// CheckpointMessage is what a checkpoint's signature covers: a fixed
// label (so that the key signs nothing else by accident), the sequence
// number, the hash and the time in Unix nanoseconds, one per line.
func CheckpointMessage(seq int64, hash string, t time.Time) []byte {
	b := []byte("gonaut audit checkpoint v1\n")
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '\n')
	b = append(b, hash...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, nanos(t), 10)
	return append(b, '\n')
}

// SignCheckpoint signs the chain's entry seq with hash at time t.
func SignCheckpoint(key ed25519.PrivateKey, seq int64, hash string, t time.Time) AuditCheckpoint {
	t = fromNanos(nanos(t)) // the precision the store keeps
	return AuditCheckpoint{Seq: seq, Hash: hash, Time: t, Signature: ed25519.Sign(key, CheckpointMessage(seq, hash, t))}
}

// Verify reports whether c is signed by pub.
func (c *AuditCheckpoint) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && len(c.Signature) == ed25519.SignatureSize &&
		ed25519.Verify(pub, CheckpointMessage(c.Seq, c.Hash, c.Time), c.Signature)
}

func (c *AuditCheckpoint) same(o *AuditCheckpoint) bool {
	return c.Seq == o.Seq && c.Hash == o.Hash && nanos(c.Time) == nanos(o.Time) && string(c.Signature) == string(o.Signature)
}

// AuditHead is the last entry of the chain as the head record has it:
// its sequence number and hash (0 and "" for an empty log).
func (s *DB) AuditHead(ctx context.Context) (seq int64, hash string, err error) {
	err = s.row(ctx, s.db, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	return seq, hash, s.wrap(err)
}

// AddAuditCheckpoint stores a checkpoint. A second checkpoint of the same
// entry (another replica signing the same head) is ignored.
func (s *DB) AddAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error {
	if c.Seq <= 0 || len(c.Signature) != ed25519.SignatureSize || !validChainHash(c.Hash) {
		return fmt.Errorf("%w: audit checkpoint", ErrInvalid)
	}
	_, err := s.exec(ctx, s.db, `INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
		c.Seq, c.Hash, nanos(c.Time), base64.StdEncoding.EncodeToString(c.Signature))
	return err
}

// LastAuditCheckpoint is the checkpoint with the highest sequence
// number; ErrNotFound when there is none.
func (s *DB) LastAuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error) {
	cs, err := s.auditCheckpoints(ctx, `ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, ErrNotFound
	}
	return &cs[0], nil
}

// ListAuditCheckpoints returns up to limit checkpoints after entry
// after, oldest first.
func (s *DB) ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]AuditCheckpoint, error) {
	return s.auditCheckpoints(ctx, `WHERE seq > ? ORDER BY seq LIMIT ?`, after, clampCheckpoints(limit))
}

func clampCheckpoints(n int) int {
	if n <= 0 || n > 5000 {
		return 5000
	}
	return n
}

func (s *DB) auditCheckpoints(ctx context.Context, tail string, args ...any) ([]AuditCheckpoint, error) {
	rows, err := s.query(ctx, s.db, `SELECT seq, hash, time, signature FROM audit_checkpoints `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditCheckpoint{}
	for rows.Next() {
		var c AuditCheckpoint
		var t int64
		var sig string
		if err := rows.Scan(&c.Seq, &c.Hash, &t, &sig); err != nil {
			return nil, s.wrap(err)
		}
		c.Time = fromNanos(t)
		// A signature that does not decode stays empty and fails
		// verification, rather than hiding the row.
		c.Signature, _ = base64.StdEncoding.DecodeString(sig)
		out = append(out, c)
	}
	return out, s.wrap(rows.Err())
}

func validChainHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !('0' <= h[i] && h[i] <= '9' || 'a' <= h[i] && h[i] <= 'f') {
			return false
		}
	}
	return true
}

// entryHashes returns the hashes of the entries seqs (those that exist).
func (s *DB) entryHashes(ctx context.Context, seqs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(seqs))
	for len(seqs) > 0 {
		n := min(len(seqs), 500)
		args := make([]any, n)
		for i, q := range seqs[:n] {
			args[i] = q
		}
		rows, err := s.query(ctx, s.db, `SELECT seq, hash FROM audit WHERE seq IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var q int64
			var h string
			if err := rows.Scan(&q, &h); err != nil {
				rows.Close()
				return nil, s.wrap(err)
			}
			out[q] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, s.wrap(err)
		}
		seqs = seqs[n:]
	}
	return out, nil
}

// errCheckpoint ends a checkpoint check with a finding.
var errCheckpoint = errors.New("checkpoint finding")

// VerifyAuditSigned is VerifyAudit followed by a check of every stored
// checkpoint and every checkpoint in exported (a copy kept outside the
// database, see ParseCheckpoints): each must be signed by pub, the entry
// it names must exist and have its hash, and each exported one must also
// be in the database. A checkpoint past the log's end means entries were
// removed (Truncated). With a nil pub the hashes are still compared but
// signatures are not checked (SignaturesChecked is false).
func (s *DB) VerifyAuditSigned(ctx context.Context, pub ed25519.PublicKey, exported []AuditCheckpoint) (*VerifyReport, error) {
	rep, err := s.VerifyAudit(ctx)
	if err != nil || !rep.OK {
		return rep, err
	}
	rep.SignaturesChecked = pub != nil
	last := rep.Entries // the chain is whole: entries are 1..last
	fail := func(seq int64, truncated bool, format string, args ...any) error {
		rep.OK, rep.BrokenAt, rep.Truncated, rep.Reason = false, seq, truncated, fmt.Sprintf(format, args...)
		return errCheckpoint
	}
	check := func(cs []AuditCheckpoint, where string) error {
		seqs := make([]int64, len(cs))
		for i := range cs {
			seqs[i] = cs[i].Seq
		}
		hashes, err := s.entryHashes(ctx, seqs)
		if err != nil {
			return err
		}
		for i := range cs {
			c := &cs[i]
			if pub != nil && !c.Verify(pub) {
				return fail(c.Seq, false, "the checkpoint of entry %d %s has a bad signature", c.Seq, where)
			}
			if c.Seq > last {
				return fail(last+1, true, "log ends at entry %d but the checkpoint %s signed entry %d on %s: entries were removed", last, where, c.Seq, c.Time.Format(time.RFC3339))
			}
			if hashes[c.Seq] != c.Hash {
				return fail(c.Seq, false, "entry %d does not match the checkpoint %s signed on %s: the log was rewritten up to it", c.Seq, where, c.Time.Format(time.RFC3339))
			}
			rep.Checkpoints++
			rep.SignedThrough = max(rep.SignedThrough, c.Seq)
		}
		return nil
	}
	var after int64
	for {
		cs, err := s.ListAuditCheckpoints(ctx, after, 0)
		if err != nil {
			return nil, err
		}
		if err := check(cs, "in the database"); err != nil {
			if errors.Is(err, errCheckpoint) {
				return rep, nil
			}
			return nil, err
		}
		if len(cs) < clampCheckpoints(0) {
			break
		}
		after = cs[len(cs)-1].Seq
	}
	for len(exported) > 0 {
		n := min(len(exported), 500)
		page := exported[:n]
		if err := check(page, "in the exported file"); err != nil {
			if errors.Is(err, errCheckpoint) {
				return rep, nil
			}
			return nil, err
		}
		if err := s.checkStored(ctx, page, fail); err != nil {
			if errors.Is(err, errCheckpoint) {
				return rep, nil
			}
			return nil, err
		}
		exported = exported[n:]
	}
	return rep, nil
}

// checkStored fails for an exported checkpoint that the database lacks
// or holds differently: deleting checkpoints is tampering too.
func (s *DB) checkStored(ctx context.Context, cs []AuditCheckpoint, fail func(int64, bool, string, ...any) error) error {
	args := make([]any, len(cs))
	for i := range cs {
		args[i] = cs[i].Seq
	}
	stored, err := s.auditCheckpoints(ctx, `WHERE seq IN (?`+strings.Repeat(",?", len(cs)-1)+`)`, args...)
	if err != nil {
		return err
	}
	bySeq := make(map[int64]*AuditCheckpoint, len(stored))
	for i := range stored {
		bySeq[stored[i].Seq] = &stored[i]
	}
	for i := range cs {
		c := &cs[i]
		switch st := bySeq[c.Seq]; {
		case st == nil:
			return fail(c.Seq, false, "the checkpoint of entry %d in the exported file is missing from the database", c.Seq)
		case !st.same(c):
			return fail(c.Seq, false, "the checkpoint of entry %d in the database differs from the exported one", c.Seq)
		}
	}
	return nil
}
