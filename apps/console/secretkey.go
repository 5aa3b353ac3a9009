package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// secretKeyEnv, when set, holds the secret key itself (base64) and
// takes precedence over the key file: for deployments whose secrets come
// from the environment, and for replicas sharing one PostgreSQL.
const secretKeyEnv = "GONAUT_CONSOLE_SECRET_KEY"

// secretKeyFileName is the key file's name when -secret-key-file is
// not given.
const secretKeyFileName = "console-secret.key"

// defaultSecretKeyPath is where the key file lives by default: next to
// the SQLite database, or in the working directory for PostgreSQL.
func defaultSecretKeyPath(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return secretKeyFileName
	}
	path := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return filepath.Join(filepath.Dir(path), secretKeyFileName)
}

// loadSecretKey returns the console's secret key: from the environment
// when set there, else from the key file, which is created (0600) with a
// new key on first start. It says on out where the key came from.
func loadSecretKey(dsn, file string, out io.Writer) ([]byte, error) {
	if v := os.Getenv(secretKeyEnv); v != "" {
		key, err := domain.ParseSecretKey([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", secretKeyEnv, err)
		}
		fmt.Fprintf(out, "  secret key: from %s\n", secretKeyEnv)
		return key, nil
	}
	if file == "" {
		file = defaultSecretKeyPath(dsn)
	}
	key, created, err := domain.LoadOrCreateSecretKey(file)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(out, "  secret key: created %s; back it up apart from the database: without it, TOTP secrets cannot be read\n", file)
	} else {
		fmt.Fprintf(out, "  secret key: %s\n", file)
	}
	return key, nil
}
