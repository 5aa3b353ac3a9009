package domain

import (
	"strings"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// A credential the console hands out (a session token, an API key, a
// gateway's registration token and its credential) names its tenant, so
// that the console knows which tenant's store to check it against
// before it has checked it: a tenant other than the default puts its id
// and a colon in front ("acme:gk_…"). The default tenant's credentials
// carry no prefix, so that those of a single-tenant console are what
// they always were.
//
// The prefix routes; it proves nothing. The secret after it is hashed
// and looked up in that tenant's store only, so a credential whose
// prefix is changed is looked up where it does not exist and refused.
// Tokens are base64url, which has no colon, so the split is exact.

// Credential is c as a credential of the Service's tenant.
func (s *Service) Credential(c string) string {
	if t := s.TenantID(); t != DefaultTenant {
		return t + ":" + c
	}
	return c
}

// SplitCredential is the tenant a credential names and the credential
// without that name: DefaultTenant and raw itself when it names none.
func SplitCredential(raw string) (tenant, rest string) {
	if t, c, ok := strings.Cut(raw, ":"); ok && store.ValidTenantID(t) {
		return t, c
	}
	return DefaultTenant, raw
}
