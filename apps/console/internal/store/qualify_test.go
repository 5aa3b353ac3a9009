package store_test

import (
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

func TestQualify(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT * FROM users WHERE id = ?`, `SELECT * FROM "s_t_a".users WHERE id = ?`},
		{`UPDATE audit_head SET seq = ? WHERE id = 1`, `UPDATE "s_t_a".audit_head SET seq = ? WHERE id = 1`},
		{`SELECT a.seq FROM audit a JOIN audit_blocks b ON b.block = a.seq / 1024`, `SELECT a.seq FROM "s_t_a".audit a JOIN "s_t_a".audit_blocks b ON b.block = a.seq / 1024`},
		// strings, quoted identifiers, qualified names and longer words stay
		{`SELECT 'users', "users", x.users, users_x, groups_json FROM devices`, `SELECT 'users', "users", x.users, users_x, groups_json FROM "s_t_a".devices`},
		{`INSERT INTO Users (id) VALUES ('it''s')`, `INSERT INTO "s_t_a".Users (id) VALUES ('it''s')`},
		{`SELECT 'unterminated`, `SELECT 'unterminated`},
	} {
		if got := store.Qualify(c.in, "s_t_a"); got != c.want {
			t.Errorf("qualify(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
