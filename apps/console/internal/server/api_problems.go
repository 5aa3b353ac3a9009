package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// An operation fails with the domain's error vocabulary (see package
// domain, errors.go); this file is the one place where it becomes what a
// person reads: an HTTP status and code, the field at fault, the
// message. Anything outside the vocabulary is an internal error: it is
// logged and its text (a driver's, say) never leaves the console.

// writeProblem answers an API request whose operation failed with err.
func (s *Server) writeProblem(w http.ResponseWriter, err error) {
	status, code, fe, msg := s.problem(err)
	if qe, ok := errors.AsType[*domain.EventQuotaError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(qe.Retry.Sub(s.now()).Seconds()))))
	}
	if fe != nil {
		writeJSON(w, status, invalidField{Status: status, Code: code, Message: fe.Error(), Field: fe.Field})
		return
	}
	writeError(w, status, code, "%s", msg)
}

// problemMessage is what a page says about err: the same words the API
// answers with.
func (s *Server) problemMessage(err error) string {
	_, _, fe, msg := s.problem(err)
	if fe != nil {
		return fe.Error()
	}
	return msg
}

// problem classifies err: an HTTP status, an error code, and either the
// field at fault or a message.
func (s *Server) problem(err error) (int, string, *fieldError, string) {
	var invalid *domain.InvalidError
	var conflict *domain.ConflictError
	var unauth *domain.UnauthorizedError
	switch {
	case errors.As(err, &invalid):
		if invalid.Field != "" {
			return http.StatusBadRequest, "invalid", &fieldError{Field: invalid.Field, Message: invalid.Message}, ""
		}
		return http.StatusBadRequest, "invalid", nil, invalid.Message
	case errors.As(err, &conflict):
		status := http.StatusConflict
		if conflict.Code == "pool_full" {
			status = http.StatusInsufficientStorage
		}
		if conflict.Field != "" {
			return status, conflict.Code, &fieldError{Field: conflict.Field, Message: conflict.Message}, ""
		}
		return status, conflict.Code, nil, conflict.Message
	case errors.As(err, &unauth):
		return http.StatusUnauthorized, "unauthorized", nil, unauth.Message
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound, "not_found", nil, "not found"
	case errors.Is(err, domain.ErrForbidden):
		// An operation may say why: "forbidden: <reason>".
		return http.StatusForbidden, "forbidden", nil, strings.TrimPrefix(err.Error(), domain.ErrForbidden.Error()+": ")
	case errors.As(err, new(*domain.EventQuotaError)):
		return http.StatusTooManyRequests, "tenant_quota", nil, err.Error()
	case errors.Is(err, domain.ErrTenantSuspended):
		return http.StatusForbidden, "tenant_suspended", nil, err.Error()
	case errors.Is(err, domain.ErrNoSupportGrant):
		return http.StatusForbidden, "no_support_grant", nil, err.Error()
	case errors.Is(err, domain.ErrStale):
		return http.StatusConflict, "stale", nil, domain.ErrStale.Error()
	}
	s.log.Error("console: operation failed", "err", err)
	return http.StatusInternalServerError, "internal", nil, "internal error"
}

// fieldError is a refused input with the field it is about, as the
// transport answers it.
type fieldError struct {
	Field   string
	Message string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Message }

// invalidField is the API answer to a fieldError: the common error format
// plus the field.
type invalidField struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}
