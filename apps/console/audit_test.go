package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// checkpointedDemo runs the demo console on a store in a directory of
// its own until it has served, then stops it; stopping signs the head.
// It returns the directory, holding console.db and the key file the
// console created.
func checkpointedDemo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"demo", "-db", db, "-listen", addr}, &out, &errb) }()
	waitUp(t, addr)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "created the audit signing key "+filepath.Join(dir, auditKeyName)) {
		t.Errorf("demo did not say where the new key is: %q", out.String())
	}
	fi, err := os.Stat(filepath.Join(dir, auditKeyName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	return dir
}

// cli runs the console with args and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

// attack opens the store behind the console's back and runs q on it,
// then re-chains the whole log from its stored fields with the
// documented hash and resets the head: all that write access to the
// database needs.
func attack(t *testing.T, db string, q ...string) {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x := st.SQL()
	for _, q := range q {
		if _, err := x.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := x.Query(`SELECT seq, time, actor, action, resource, effect, gateway, event_id, detail FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		seq  int64
		hash string
	}
	var es []entry
	prev := ""
	for rows.Next() {
		var seq, tm int64
		var actor, action, resource, effect, gateway, detail string
		var eid sql.NullString
		if err := rows.Scan(&seq, &tm, &actor, &action, &resource, &effect, &gateway, &eid, &detail); err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, f := range []string{prev, fmt.Sprint(seq), fmt.Sprint(tm), actor, action, resource, effect, gateway, eid.String, detail} {
			fmt.Fprintf(h, "%d:%s;", len(f), f)
		}
		prev = hex.EncodeToString(h.Sum(nil))
		es = append(es, entry{seq, prev})
	}
	rows.Close()
	last := ""
	for i, e := range es {
		if i > 0 {
			last = es[i-1].hash
		}
		if _, err := x.Exec(`UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?`, last, e.hash, e.seq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := x.Exec(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, es[len(es)-1].seq, prev); err != nil {
		t.Fatal(err)
	}
}

func TestAuditCheckpointsCLI(t *testing.T) {
	dir := checkpointedDemo(t)
	db := filepath.Join(dir, "console.db")
	code, out := cli(t, "audit", "verify", "-db", db)
	if code != 0 || !strings.Contains(out, "intact") || !strings.Contains(out, "1 signed checkpoints verified") {
		t.Fatalf("verify: %d %q", code, out)
	}
	code, export := cli(t, "audit", "checkpoints", "-db", db)
	if code != 0 || strings.Count(export, "\n") != 1 || !strings.Contains(export, `"public_key":`) {
		t.Fatalf("export: %d %q", code, export)
	}
	exported := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	os.WriteFile(exported, []byte(export), 0o600)
	if code, out := cli(t, "audit", "verify", "-db", db, "-checkpoints", exported); code != 0 {
		t.Fatalf("verify against the export: %d %q", code, out)
	}
	// Each attack on its own copy of the store.
	fresh := func(t *testing.T) string {
		d := t.TempDir()
		for _, n := range []string{"console.db", auditKeyName} {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(d, n), b, 0o600)
		}
		return filepath.Join(d, "console.db")
	}

	t.Run("truncation", func(t *testing.T) {
		db := fresh(t)
		attack(t, db, `DELETE FROM audit WHERE seq > (SELECT MAX(seq) - 3 FROM audit)`)
		code, out := cli(t, "audit", "verify", "-db", db)
		if code != 1 || !strings.Contains(out, "TRUNCATED") || !strings.Contains(out, "entries were removed") {
			t.Errorf("verify after truncation: %d %q", code, out)
		}
	})
	t.Run("rechained actor", func(t *testing.T) {
		db := fresh(t)
		attack(t, db, `UPDATE audit SET actor = 'mallory' WHERE seq = 2`)
		code, out := cli(t, "audit", "verify", "-db", db)
		if code != 1 || !strings.Contains(out, "BROKEN") || !strings.Contains(out, "rewritten") {
			t.Errorf("verify after re-chaining: %d %q", code, out)
		}
	})
	t.Run("checkpoints deleted", func(t *testing.T) {
		db := fresh(t)
		attack(t, db, `UPDATE audit SET actor = 'mallory' WHERE seq = 2`, `DELETE FROM audit_checkpoints`)
		code, out := cli(t, "audit", "verify", "-db", db)
		if code != 0 || !strings.Contains(out, "no signed checkpoint") {
			t.Fatalf("the database alone can no longer tell: %d %q", code, out)
		}
		code, out = cli(t, "audit", "verify", "-db", db, "-checkpoints", exported)
		if code != 1 || !strings.Contains(out, "BROKEN") {
			t.Errorf("verify against the export: %d %q", code, out)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		db := fresh(t)
		attack(t, db, `UPDATE audit_checkpoints SET time = time + 1`)
		code, out := cli(t, "audit", "verify", "-db", db)
		if code != 1 || !strings.Contains(out, "bad signature") {
			t.Errorf("verify with a bad signature: %d %q", code, out)
		}
		if code, out := cli(t, "audit", "checkpoints", "-db", db); code != 1 || !strings.Contains(out, "bad signature") {
			t.Errorf("export of a bad checkpoint: %d %q", code, out)
		}
	})
	t.Run("export from another key", func(t *testing.T) {
		other := checkpointedDemo(t)
		_, export := cli(t, "audit", "checkpoints", "-db", filepath.Join(other, "console.db"))
		f := filepath.Join(t.TempDir(), "other.jsonl")
		os.WriteFile(f, []byte(export), 0o600)
		if code, out := cli(t, "audit", "verify", "-db", db, "-checkpoints", f); code != 1 || !strings.Contains(out, "is not the audit key") {
			t.Errorf("verify against another console's export: %d %q", code, out)
		}
	})
}
