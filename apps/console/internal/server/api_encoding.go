package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"strconv"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// The REST API's encoding, shared by every api_*.go file: JSON bodies in
// (decode, bounded) and out (writeJSON, writeError), lists and single
// items (serveList, serveOne, page), and QR codes as PNG data URLs. How
// a domain error becomes an answer is api_problems.go.

// page is the list answer format.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func listOpts(r *http.Request) domain.ListOptions {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("limit"))
	return domain.ListOptions{After: q.Get("cursor"), Limit: n, Query: q.Get("q")}
}

// serveList answers a list request with list's page for the request's
// cursor, limit and search; key names an item as the next cursor.
func serveList[T any](s *Server, w http.ResponseWriter, r *http.Request, list func(context.Context, domain.ListOptions) ([]T, error), key func(T) string) {
	o := listOpts(r)
	items, err := list(r.Context(), o)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pageOf(items, o, key))
}

// serveOne answers a request for the item that the path value param names.
func serveOne[T any](s *Server, w http.ResponseWriter, r *http.Request, get func(context.Context, string) (T, error), param string) {
	x, err := get(r.Context(), r.PathValue(param))
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func pageOf[T any](items []T, o domain.ListOptions, key func(T) string) page[T] {
	p := page[T]{Items: items}
	if len(items) > 0 && len(items) == clampLimit(o.Limit) {
		p.NextCursor = key(items[len(items)-1])
	}
	return p
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}

// apiError is the single error format of the REST API and control plane.
type apiError = controlplane.Error

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)})
}

// decode reads a JSON body of at most 2 MiB into v, refusing unknown
// fields; it writes the error answer itself and reports false on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, 2<<20)
}

// decodeLimit is decode with a limit of n bytes.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, n int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, n))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid", "request body: %v", err)
		return false
	}
	return true
}

// qrPNG renders text as a QR code PNG, base64-encoded.
func qrPNG(text string, size int) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	code, err = barcode.Scale(code, size, size)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, code); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
