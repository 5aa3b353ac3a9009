package domain

import (
	"context"
	"errors"
	"testing"
)

// TestReplicasOnSQLite: a SQLite store has one console, so there is
// no one to listen to (the PostgreSQL side is TestReplicasShareLiveEvents
// in package server).
func TestReplicasOnSQLite(t *testing.T) {
	s, _ := newInsightService(t, Options{})
	if s.Replicated() {
		t.Error("SQLite store reported as shared")
	}
	err := s.ListenReplicas(context.Background(), ReplicaHandlers{Ready: func() {}, Config: func(string) {}, Live: func(string) {}})
	if !errors.Is(err, ErrNotReplicated) {
		t.Errorf("ListenReplicas: %v, want ErrNotReplicated", err)
	}
	if v, err := s.ConfigVersion(context.Background()); err != nil || v < 0 {
		t.Errorf("ConfigVersion %d, %v", v, err)
	}
	if n := s.Replicas(context.Background()); n != 1 {
		t.Errorf("Replicas = %d, want 1", n)
	}
}
