package server

import (
	"errors"
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Support access (see domain/platform_support.go): a platform
// administrator names the tenant she reads under its grant in the
// X-Gonaut-Support header (the API) or the support cookie the platform
// page sets (pages and their live stream). The request is then the
// tenant's, made with the granted role by "platform:<her id>", and only
// a reading one: any other method is refused. Platform routes and her
// own account's routes ignore the choice, so that she can always end
// support and log out.

const (
	supportHeader = "X-Gonaut-Support"
	supportCookie = "gonaut_support"
)

// supportTenant is the tenant r asks to read under support, "" for
// none. A value that is no tenant id is none: it reaches no store.
func supportTenant(r *http.Request) string {
	t := r.Header.Get(supportHeader)
	if t == "" {
		if c, err := r.Cookie(supportCookie); err == nil {
			t = c.Value
		}
	}
	if !domain.ValidTenantID(t) {
		return ""
	}
	return t
}

// supportPrincipal is p reading tenant under its grant, or answers the
// refusal itself and reports false.
func (s *Server) supportPrincipal(w http.ResponseWriter, r *http.Request, rt route, p *principal, tenant string) (*principal, bool) {
	dom, role, err := s.plat.SupportAccess(r.Context(), p.domainActor(), tenant)
	if err == nil && !safeMethod(r.Method) {
		err = errSupportReadOnly
	}
	if err != nil {
		w.Header().Set("X-Gonaut-Refusal", "support")
		if rt.page {
			r = withPrincipal(r, p)
			if errors.Is(err, errSupportReadOnly) {
				s.redirect(w, r, "/", flashError, "support access to "+tenant+" only reads: nothing was changed")
				return nil, false
			}
			// The cookie outlived the grant (or names what it cannot
			// reach): back to the platform page, support ended.
			s.setCookie(w, supportCookie, "", -1)
			s.redirect(w, r, "/platform", flashError, "support access to "+tenant+": "+supportRefusal(err))
			return nil, false
		}
		writeError(w, supportStatus(err), "support", "support access to %s: %s", tenant, supportRefusal(err))
		return nil, false
	}
	sp := *p
	sp.dom, sp.tenant, sp.role, sp.support = dom, dom.TenantID(), role, true
	return &sp, true
}

var errSupportReadOnly = errors.New("support access only reads")

// supportStatus is the status of a refused support request.
func supportStatus(err error) int {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, new(*domain.InvalidError)):
		return http.StatusBadRequest
	}
	return http.StatusForbidden
}

func supportRefusal(err error) string {
	switch {
	case errors.Is(err, domain.ErrForbidden):
		return "only the platform's administrators have support access"
	case errors.Is(err, domain.ErrNotFound):
		return "no such organisation"
	}
	if ie, ok := errors.AsType[*domain.InvalidError](err); ok {
		return ie.Message
	}
	return err.Error()
}
