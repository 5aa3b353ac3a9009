package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// TestUserAdd runs `console user add` as an operator does at the host:
// the user exists with the role asked for, signs in with the printed
// password, the audit log names "system" as the actor, and a second add
// of the same email is refused with the domain's words.
func TestUserAdd(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "console.db")
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"user", "add", "-db", db, "-email", "op@example.com", "-role", "operator"}, &out, &errOut); code != 0 {
		t.Fatalf("user add: %d %q %q", code, out.String(), errOut.String())
	}
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no password printed: %q", out.String())
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ops, err := domain.New(st, domain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ops.Login(ctx, domain.Login{Email: "op@example.com", Password: m[1]})
	if err != nil || in.User.Role != domain.RoleOperator {
		t.Fatalf("login with the printed password: %+v %v", in.User, err)
	}
	es, err := st.ListAudit(ctx, store.AuditFilter{Action: "user.create", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Actor != "system" || es[0].Resource != "op@example.com" {
		t.Fatalf("user.create entries: %+v %v", es, err)
	}

	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"user", "add", "-db", db, "-email", "op@example.com"}, &out, &errOut); code == 0 || !bytes.Contains(errOut.Bytes(), []byte("already exists")) {
		t.Fatalf("second add: %d %q %q", code, out.String(), errOut.String())
	}
}
