package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestIdentityProviderChecks(t *testing.T) {
	s, st := newService(t, Options{})
	str := func(v string) *string { return &v }
	role := func(r Role) *Role { return &r }
	base := func() IdentityProviderPatch {
		return IdentityProviderPatch{Name: str("Okta"), Issuer: str("https://acme.okta.com"), ClientID: str("gonaut"), ClientSecret: str("s3cret")}
	}
	cases := []struct {
		name  string
		edit  func(*IdentityProviderPatch)
		field string // "" accepted
	}{
		{"good", func(*IdentityProviderPatch) {}, ""},
		{"loopback http for tests", func(p *IdentityProviderPatch) { p.Issuer = str("http://127.0.0.1:9999") }, ""},
		{"http elsewhere", func(p *IdentityProviderPatch) { p.Issuer = str("http://acme.okta.com") }, "issuer"},
		{"not a URL", func(p *IdentityProviderPatch) { p.Issuer = str("::not a url") }, "issuer"},
		{"no host", func(p *IdentityProviderPatch) { p.Issuer = str("https://") }, "issuer"},
		{"empty client id", func(p *IdentityProviderPatch) { p.ClientID = str(" ") }, "client_id"},
		{"empty name", func(p *IdentityProviderPatch) { p.Name = str("") }, "name"},
		{"unknown role", func(p *IdentityProviderPatch) { p.DefaultRole = role("root") }, "default_role"},
		{"unknown provisioning", func(p *IdentityProviderPatch) { p.Provisioning = str("auto") }, "provisioning"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.edit(&in)
			ip, err := s.CreateIdentityProvider(bg, System, in)
			var ie *InvalidError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.field == "":
				if strings.Join(ip.Scopes, " ") != "openid email profile" || ip.Provisioning != ProvisionInvite || ip.DefaultRole != RoleViewer || !ip.HasSecret {
					t.Fatalf("defaults %+v", ip)
				}
			case !errors.As(err, &ie) || ie.Field != c.field:
				t.Fatalf("err %v, want an InvalidError about %s", err, c.field)
			}
		})
	}
	ps, _ := st.ListIdentityProviders(bg)
	for _, p := range ps {
		if !IsSealed(p.ClientSecret) {
			t.Fatalf("secret stored in the clear: %q", p.ClientSecret)
		}
		if got, err := s.box.open(purposeOIDCSecret, p.ID, p.ClientSecret); err != nil || got != "s3cret" {
			t.Fatalf("secret opens to %q, %v", got, err)
		}
	}
	// A change keeps the secret unless it names one, and is audited
	// without it.
	ip, err := s.UpdateIdentityProvider(bg, System, ps[0].ID, IdentityProviderPatch{Name: str("Okta 2")})
	if err != nil || !ip.HasSecret || ip.Name != "Okta 2" {
		t.Fatalf("update %+v %v", ip, err)
	}
	for _, a := range []string{"identity_provider.create", "identity_provider.update"} {
		for _, e := range audited(t, st, a) {
			if strings.Contains(string(e.Detail), "s3cret") {
				t.Fatalf("%s records the secret: %s", a, e.Detail)
			}
		}
	}
	if err := s.DeleteIdentityProvider(bg, System, ps[0].ID); err != nil || len(audited(t, st, "identity_provider.delete")) != 1 {
		t.Fatalf("delete: %v", err)
	}
	if err := s.DeleteIdentityProvider(bg, System, ps[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestSSORequiredSetting(t *testing.T) {
	s, _ := newService(t, Options{})
	if s.SSORequired(bg) {
		t.Fatal("sso.required by default")
	}
	if _, err := s.SetSetting(bg, System, SettingSSORequired, "yes"); err == nil {
		t.Fatal("sso.required accepted yes")
	}
	if _, err := s.SetSetting(bg, System, SettingSSORequired, "true"); err != nil || !s.SSORequired(bg) {
		t.Fatalf("sso.required true: %v", err)
	}
}
