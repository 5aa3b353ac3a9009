package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// storeError maps a store error to an API answer. It is the one place
// where store errors become what a person reads: conflicts name the field
// to change, and driver text never leaves the console (it is logged).
func (s *Server) storeError(w http.ResponseWriter, err error) {
	status, code, fe, msg := s.storeProblem(err)
	if fe != nil {
		writeJSON(w, status, invalidField{Status: status, Code: code, Message: fe.Error(), Field: fe.Field})
		return
	}
	writeError(w, status, code, "%s", msg)
}

// storeMessage is what a page says about a store error: the same words
// the API answers with.
func (s *Server) storeMessage(err error) string {
	_, _, fe, msg := s.storeProblem(err)
	if fe != nil {
		return fe.Error()
	}
	return msg
}

// storeProblem classifies err: an HTTP status, an error code, and either
// the field at fault or a message.
func (s *Server) storeProblem(err error) (int, string, *fieldError, string) {
	var invalid errString
	var fe *fieldError
	var conflict *store.ConflictError
	var dInvalid *domain.InvalidError
	var dConflict *domain.ConflictError
	var dUnauth *domain.UnauthorizedError
	switch {
	// The domain's vocabulary (see package domain).
	case errors.As(err, &dInvalid):
		if dInvalid.Field != "" {
			return http.StatusBadRequest, "invalid", &fieldError{Field: dInvalid.Field, Message: dInvalid.Message}, ""
		}
		return http.StatusBadRequest, "invalid", nil, dInvalid.Message
	case errors.As(err, &dConflict):
		status := http.StatusConflict
		if dConflict.Code == "pool_full" {
			status = http.StatusInsufficientStorage
		}
		if dConflict.Field != "" {
			return status, dConflict.Code, &fieldError{Field: dConflict.Field, Message: dConflict.Message}, ""
		}
		return status, dConflict.Code, nil, dConflict.Message
	case errors.As(err, &dUnauth):
		return http.StatusUnauthorized, "unauthorized", nil, dUnauth.Message
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound, "not_found", nil, "not found"
	case errors.Is(err, domain.ErrForbidden):
		// The operation may say why (domain.ErrEnrolForOther).
		return http.StatusForbidden, "forbidden", nil, err.Error()
	case errors.Is(err, domain.ErrStale):
		return http.StatusConflict, "stale", nil, domain.ErrStale.Error()
	// What the store says directly, until every operation goes through
	// the domain.
	case errors.As(err, &fe):
		return http.StatusBadRequest, "invalid", fe, ""
	case errors.As(err, &invalid):
		return http.StatusBadRequest, "invalid", nil, string(invalid)
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not_found", nil, "not found"
	case errors.Is(err, store.ErrStale):
		return http.StatusConflict, "stale", nil, "it changed while this request was being handled; reload and try again"
	case errors.As(err, &conflict):
		if fe := conflictField(conflict); fe != nil {
			return http.StatusConflict, "conflict", fe, ""
		}
		s.log.Warn("console: conflict on an unmapped column", "table", conflict.Table, "column", conflict.Column)
		return http.StatusConflict, "conflict", nil, "this already exists; choose another name"
	case errors.Is(err, store.ErrConflict):
		// Conflicts the store words itself (an enrolment that changed).
		if msg := strings.TrimPrefix(err.Error(), store.ErrConflict.Error()+": "); msg != err.Error() {
			return http.StatusConflict, "conflict", nil, msg
		}
		return http.StatusConflict, "conflict", nil, "this already exists; choose another name"
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, "invalid", nil, strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
	case errors.Is(err, store.ErrQuota):
		return http.StatusConflict, "quota", nil, "device quota reached (" + strings.TrimPrefix(err.Error(), store.ErrQuota.Error()+": ") + "); remove a device first"
	case errors.Is(err, store.ErrPoolFull):
		return http.StatusInsufficientStorage, "pool_full", nil, "the tunnel address pool is full; widen " + SettingWGNetwork
	case errors.Is(err, store.ErrTokenUsed):
		return http.StatusUnauthorized, "unauthorized", nil, "registration token unknown, expired or already used"
	}
	s.log.Error("console: store", "err", err)
	return http.StatusInternalServerError, "internal", nil, "internal error"
}

// conflictFields says, for each unique column, which request field a
// person changes and why.
var conflictFields = map[string]fieldError{
	"users.email":        {"email", "a user with this email already exists; use another email or edit that user"},
	"groups.name":        {"name", "a group with this name already exists; choose another name"},
	"gateways.name":      {"name", "a gateway with this name already exists; choose another name or remove that gateway"},
	"resources.name":     {"name", "a resource with this name already exists; choose another name"},
	"policies.name":      {"name", "a policy with this name already exists; choose another name"},
	"devices.public_key": {"public_key", "a device with this public key is already enrolled; generate a new key pair"},
	"devices.address":    {"address", "this tunnel address is already in use; leave it empty to get a free one"},
}

func conflictField(c *store.ConflictError) *fieldError {
	fe, ok := conflictFields[c.Table+"."+c.Column]
	if !ok {
		return nil
	}
	return &fe
}
