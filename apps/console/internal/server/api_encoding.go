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

func (s *Server) apiRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/openapi.json", perm: permPublic, h: s.apiOpenAPI},
		{method: "GET", path: "/api/v1/me", perm: permSelf, h: s.apiMe},
		{method: "POST", path: "/api/v1/me/totp", perm: permSelf, h: s.apiTOTPStart},
		{method: "POST", path: "/api/v1/me/totp/confirm", perm: permSelf, h: s.apiTOTPConfirm},
		{method: "POST", path: "/api/v1/me/totp/disable", perm: permSelf, h: s.apiTOTPDisable},
		{method: "POST", path: "/api/v1/me/password", perm: permSelf, h: s.apiChangePassword},
		{method: "POST", path: "/api/v1/me/devices", perm: permSelf, h: s.apiSelfEnrol},
		{method: "POST", path: "/api/v1/me/devices/{id}/renew", perm: permSelf, h: s.apiSelfRenew},

		{method: "GET", path: "/api/v1/users", perm: permRead, h: s.apiListUsers},
		{method: "POST", path: "/api/v1/users", perm: permAdmin, h: s.apiCreateUser},
		{method: "GET", path: "/api/v1/users/{id}", perm: permRead, h: s.apiGetUser},
		{method: "PATCH", path: "/api/v1/users/{id}", perm: permAdmin, h: s.apiPatchUser},
		{method: "GET", path: "/api/v1/groups", perm: permRead, h: s.apiListGroups},
		{method: "PUT", path: "/api/v1/groups/{name}", perm: permAdmin, h: s.apiPutGroup},
		{method: "DELETE", path: "/api/v1/groups/{name}", perm: permAdmin, h: s.apiDeleteGroup},
		{method: "GET", path: "/api/v1/groups/{name}", perm: permRead, h: s.apiGetGroup},
		{method: "PUT", path: "/api/v1/groups/{name}/members/{user}", perm: permAdmin, h: s.apiPutMember},
		{method: "DELETE", path: "/api/v1/groups/{name}/members/{user}", perm: permAdmin, h: s.apiDeleteMember},

		{method: "GET", path: "/api/v1/devices", perm: permRead, h: s.apiListDevices},
		{method: "POST", path: "/api/v1/devices", perm: permOps, h: s.apiEnrolDevice},
		{method: "GET", path: "/api/v1/devices/{id}", perm: permRead, h: s.apiGetDevice},
		{method: "PATCH", path: "/api/v1/devices/{id}", perm: permOps, h: s.apiPatchDevice},
		{method: "DELETE", path: "/api/v1/devices/{id}", perm: permOps, h: s.apiDeleteDevice},

		{method: "GET", path: "/api/v1/resources", perm: permRead, h: s.apiListResources},
		{method: "GET", path: "/api/v1/resources/{name}", perm: permRead, h: s.apiGetResource},
		{method: "GET", path: "/api/v1/attachments", perm: permRead, h: s.apiAttachments},
		{method: "PUT", path: "/api/v1/resources/{name}", perm: permOps, h: s.apiPutResource},
		{method: "DELETE", path: "/api/v1/resources/{name}", perm: permOps, h: s.apiDeleteResource},

		{method: "GET", path: "/api/v1/policies", perm: permRead, h: s.apiListPolicies},
		{method: "GET", path: "/api/v1/policies/{name}", perm: permRead, h: s.apiGetPolicy},
		{method: "PUT", path: "/api/v1/policies/{name}", perm: permPolicy, draft: true, h: s.apiSavePolicy},
		{method: "DELETE", path: "/api/v1/policies/{name}", perm: permPolicy, h: s.apiDeletePolicy},
		{method: "GET", path: "/api/v1/policies/{name}/versions", perm: permRead, h: s.apiPolicyVersions},
		{method: "GET", path: "/api/v1/policies/{name}/diff", perm: permRead, h: s.apiPolicyDiff},
		{method: "POST", path: "/api/v1/policies/{name}/rollback", perm: permPolicy, h: s.apiPolicyRollback},
		{method: "POST", path: "/api/v1/policies/validate", perm: permRead, draft: true, compile: true, h: s.apiPolicyValidate},
		{method: "POST", path: "/api/v1/policies/simulate", perm: permPolicy, draft: true, compile: true, h: s.apiPolicySimulate},
		{method: "GET", path: "/api/v1/templates", perm: permRead, h: s.apiTemplates},

		{method: "GET", path: "/api/v1/gateways", perm: permRead, h: s.apiListGateways},
		{method: "GET", path: "/api/v1/settings", perm: permAdmin, h: s.apiListSettings},
		{method: "PUT", path: "/api/v1/settings/{key}", perm: permAdmin, h: s.apiPutSetting},
		{method: "GET", path: "/api/v1/settings/wireguard", perm: permRead, h: s.apiGetWGSettings},
		{method: "PUT", path: "/api/v1/settings/wireguard", perm: permAdmin, h: s.apiPutWGSettings},
		{method: "POST", path: "/api/v1/gateways", perm: permOps, h: s.apiCreateGateway},
		{method: "DELETE", path: "/api/v1/gateways/{id}", perm: permOps, h: s.apiRevokeGateway},

		{method: "GET", path: "/api/v1/alerts", perm: permRead, h: s.apiListAlerts},
		{method: "POST", path: "/api/v1/alerts/{id}/state", perm: permOps, h: s.apiAlertState},
		{method: "GET", path: "/api/v1/alerts/{id}", perm: permRead, h: s.apiGetAlert},
		{method: "GET", path: "/api/v1/analytics/summary", perm: permRead, h: s.apiSummary},
		{method: "GET", path: "/api/v1/analytics/risk", perm: permRead, h: s.apiRisk},
		{method: "GET", path: "/api/v1/analytics/detectors", perm: permRead, h: s.apiDetectorHits},

		{method: "GET", path: "/api/v1/audit", perm: permAudit, h: s.apiListAudit},
		{method: "GET", path: "/api/v1/audit/export", perm: permAudit, h: s.apiExportAudit},
		{method: "GET", path: "/api/v1/audit/verify", perm: permAudit, h: s.apiVerifyAudit},

		{method: "GET", path: "/api/v1/apikeys", perm: permAdmin, h: s.apiListKeys},
		{method: "POST", path: "/api/v1/apikeys", perm: permAdmin, h: s.apiCreateKey},
		{method: "DELETE", path: "/api/v1/apikeys/{id}", perm: permAdmin, h: s.apiRevokeKey},

		{method: "GET", path: "/api/v1/stream", perm: permRead, h: func(w http.ResponseWriter, r *http.Request, p *principal) { s.serveSSE(w, r, p, jsonEvent) }},
		{method: "GET", path: "/ws", perm: permRead, h: s.serveWS},
	}
}

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
