package store

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The exported checkpoint file is JSON lines, one checkpoint a line, each
// carrying the public key it verifies with, so that a file (or several
// exports appended to one) is complete on its own:
//
//	{"seq":1000,"hash":"…","time":"2026-12-02T14:00:00.123456789Z","public_key":"…","signature":"…"}
//
// Keys and signatures are standard base64; hash is the entry's hex SHA-256.
type checkpointLine struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Time      time.Time `json:"time"`
	PublicKey []byte    `json:"public_key"`
	Signature []byte    `json:"signature"`
}

// maxCheckpointLine bounds one line of a checkpoint file; a real line is
// about 250 bytes.
const maxCheckpointLine = 4096

// WriteCheckpoints writes cs as checkpoint file lines for pub.
func WriteCheckpoints(w io.Writer, pub ed25519.PublicKey, cs []AuditCheckpoint) error {
	enc := json.NewEncoder(w)
	for i := range cs {
		c := &cs[i]
		if err := enc.Encode(&checkpointLine{Seq: c.Seq, Hash: c.Hash, Time: c.Time.UTC(), PublicKey: pub, Signature: c.Signature}); err != nil {
			return err
		}
	}
	return nil
}

// ParseCheckpoints reads a checkpoint file (see WriteCheckpoints): every
// line one checkpoint with a positive sequence number, a SHA-256 hex
// hash, a time, an Ed25519 public key and a signature of the right
// sizes, and no other field; blank lines are skipped. Every line must
// name the same public key, which is returned. Checkpoints come back in
// file order, with exact repeats (appended exports overlap) dropped.
// Signatures are not checked here: VerifyAuditSigned does that.
func ParseCheckpoints(r io.Reader) (ed25519.PublicKey, []AuditCheckpoint, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxCheckpointLine)
	var pub ed25519.PublicKey
	var out []AuditCheckpoint
	seen := map[int64]int{}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l checkpointLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: %v", ErrInvalid, n, err)
		}
		if dec.More() {
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: more than one value", ErrInvalid, n)
		}
		switch {
		case l.Seq <= 0:
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: seq must be positive", ErrInvalid, n)
		case !validChainHash(l.Hash):
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: hash is not 64 lowercase hex digits", ErrInvalid, n)
		case l.Time.IsZero() || l.Time.Year() < 1678 || l.Time.Year() > 2261:
			// The signed time is Unix nanoseconds in an int64.
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: time missing or out of range", ErrInvalid, n)
		case len(l.PublicKey) != ed25519.PublicKeySize:
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: public key is not %d bytes", ErrInvalid, n, ed25519.PublicKeySize)
		case len(l.Signature) != ed25519.SignatureSize:
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: signature is not %d bytes", ErrInvalid, n, ed25519.SignatureSize)
		case pub != nil && !bytes.Equal(pub, l.PublicKey):
			return nil, nil, fmt.Errorf("%w: checkpoint file line %d: public key differs from the file's first line", ErrInvalid, n)
		}
		if pub == nil {
			pub = ed25519.PublicKey(l.PublicKey)
		}
		c := AuditCheckpoint{Seq: l.Seq, Hash: l.Hash, Time: l.Time.UTC(), Signature: l.Signature}
		if i, ok := seen[c.Seq]; ok && out[i].same(&c) {
			continue
		}
		seen[c.Seq] = len(out)
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("%w: checkpoint file: a line is over %d bytes", ErrInvalid, maxCheckpointLine)
		}
		return nil, nil, fmt.Errorf("store: reading checkpoint file: %w", err)
	}
	if pub == nil {
		return nil, nil, fmt.Errorf("%w: checkpoint file has no checkpoint", ErrInvalid)
	}
	return pub, out, nil
}

// EncodePublicKey is the text form of a checkpoint public key: standard
// base64, as in the checkpoint file.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// DecodePublicKey parses EncodePublicKey's form.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: a checkpoint public key is %d bytes in standard base64", ErrInvalid, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
