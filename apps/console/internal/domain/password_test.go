package domain

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	defer SetPasswordCost(2, 19*1024)()
	h := HashPassword("s3cret-passphrase")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash format %q", h)
	}
	if !CheckPassword(h, "s3cret-passphrase") || CheckPassword(h, "s3cret-passphrasE") {
		t.Error("check wrong")
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA", "$bcrypt$x$y$z$w"} {
		if CheckPassword(bad, "x") {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func FuzzCheckPassword(f *testing.F) {
	f.Add(HashPassword("x"), "x")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		CheckPassword(enc, pw)
	})
}
