package server

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/policy"
)

// officePolicy allows the team's web apps and pins down, with a test,
// that nobody else gets in: an allow-everything draft fails that test.
const officePolicy = `description: office apps
rules:
  - id: team-apps
    effect: allow
    resources:
      names: ["*.office"]
    when: '"team" in subject.groups'
tests:
  - name: an outsider is refused
    request:
      subject: {id: eve, groups: [guests]}
      resource: {kind: http, name: books.office}
    expect: deny
`

var editorField = regexp.MustCompile(`(?s)id="policy-name" name="name" value="([^"]*)".*<textarea id="policy-source"[^>]*>(.*?)</textarea>`)

// TestNewPolicyStartsFromAPassingTemplate opens "New policy" over HTTP
// beside other policies and validates what it offers exactly as the
// editor does: the draft passes its own tests and the set's, allows
// nothing by itself ("when: 'true'" is gone), and comes from a shipped
// template when one fits.
func TestNewPolicyStartsFromAPassingTemplate(t *testing.T) {
	e := newEnv(t, nil)
	open := func() (string, string) {
		t.Helper()
		code, body := e.page(domain.RoleAdmin, "/policies/new")
		m := editorField.FindStringSubmatch(body)
		if code != 200 || m == nil {
			t.Fatalf("/policies/new: %d, no editor fields", code)
		}
		name, source := html.UnescapeString(m[1]), html.UnescapeString(m[2])
		if strings.Contains(source, "when: 'true'") {
			t.Fatalf("new policy %q starts as allow-everything:\n%s", name, source)
		}
		var v Validation
		e.mustCall(domain.RoleAdmin, "POST", "/api/v1/policies/validate", draft{Name: name, Source: source}, 200, &v)
		if !v.OK {
			t.Fatalf("new policy %q does not pass: %+v", name, v)
		}
		return name, source
	}
	if _, err := e.st.SavePolicy(bg, "office", officePolicy, "test", ""); err != nil {
		t.Fatal(err)
	}
	name, source := open()
	if tpl, ok := policy.TemplateByName(name); !ok || string(tpl.Source) != source {
		t.Errorf("new policy %q is not a shipped template although one fits", name)
	}
	// With every template's name taken, the blank starter (which
	// passes too) under a free name.
	for _, tpl := range policy.Templates() {
		if _, err := e.st.SavePolicy(bg, tpl.Name, "rules: []\n", "test", ""); err != nil {
			t.Fatal(err)
		}
	}
	if name, _ := open(); name != "new-policy" {
		t.Errorf("with the templates taken, new policy is %q, want new-policy", name)
	}
}
