package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/apps/console/internal/storetest"
)

// noVersions is a Store that knows a policy but answers its history with
// an empty list, which the Store interface allows; the SQLite and
// PostgreSQL stores answer ErrNotFound instead, so a wrapper stands in
// for a store that does not.
type noVersions struct{ *store.DB }

func (noVersions) PolicyVersions(context.Context, string) ([]store.PolicyVersion, error) {
	return []store.PolicyVersion{}, nil
}

// TestPolicyHistoryOfNoVersions gets the history page of a policy whose
// history is empty, and of one that does not exist: each is a 404 page,
// not a crash.
func TestPolicyHistoryOfNoVersions(t *testing.T) {
	st := storetest.SQLite(t)
	for _, tc := range []struct {
		name string
		st   domain.Root
		path string
	}{
		{"empty history", noVersions{st}, "/policies/base/history"},
		{"empty history, explicit version", noVersions{st}, "/policies/base/history?to=3"},
		{"no such policy", st, "/policies/nosuch/history"},
	} {
		srv, err := New(tc.st, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := srv.CreateAPIKey(bg, "viewer", domain.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		req, _ := http.NewRequest("GET", hs.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: GET %s = %d, want 404", tc.name, tc.path, resp.StatusCode)
			}
		}
		hs.Close()
		srv.Close()
	}
}
