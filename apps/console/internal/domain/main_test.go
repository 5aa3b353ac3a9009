package domain

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

func TestMain(m *testing.M) {
	// Cheap hashes for tests (the format and the check are the same);
	// TestPasswordHash checks the production parameters.
	SetPasswordCost(1, 64)
	os.Exit(m.Run())
}

var bg = context.Background()

// newService is a Service over a fresh SQLite store.
func newService(t *testing.T, opts Options) (*Service, *store.DB) {
	t.Helper()
	st := storetest.SQLite(t)
	s, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// audited returns the audit entries with action, oldest first.
func audited(t *testing.T, st *store.DB, action string) []store.AuditEvent {
	t.Helper()
	es, err := st.ListAudit(bg, store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// detail decodes an audit entry's detail.
func detail(t *testing.T, e store.AuditEvent) map[string]any {
	t.Helper()
	var m map[string]any
	if len(e.Detail) > 0 {
		if err := json.Unmarshal(e.Detail, &m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}
