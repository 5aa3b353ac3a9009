package domain

import "github.com/gonaut/gonaut/policy"

// Template is a policy the console ships for people to start from.
type Template struct {
	Name        string
	Description string
	Source      string
}

// Templates returns the shipped policy templates (policy.Templates), in
// their order.
func Templates() []Template {
	out := []Template{}
	for _, t := range policy.Templates() {
		out = append(out, Template{t.Name, t.Description, string(t.Source)})
	}
	return out
}

// TemplateByName returns the shipped template called name.
func TemplateByName(name string) (Template, bool) {
	t, ok := policy.TemplateByName(name)
	if !ok {
		return Template{}, false
	}
	return Template{t.Name, t.Description, string(t.Source)}, true
}
