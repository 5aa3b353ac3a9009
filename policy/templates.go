package policy

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed templates/*.yaml
var templateFS embed.FS

// A Template is a starting policy shipped with Gonaut. Every template
// compiles and passes its own tests.
type Template struct {
	// Name is the template's name, e.g. "enterprise".
	Name string
	// Description is the template's description line.
	Description string
	// Source is the YAML document.
	Source []byte
}

// Templates lists the shipped templates by name.
func Templates() []Template {
	entries, _ := fs.ReadDir(templateFS, "templates")
	var out []Template
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		t, _ := TemplateByName(name)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Template) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TemplateByName returns one template, or false if there is none by that
// name.
func TemplateByName(name string) (Template, bool) {
	if strings.ContainsAny(name, "/\\.") {
		return Template{}, false
	}
	data, err := templateFS.ReadFile("templates/" + name + ".yaml")
	if err != nil {
		return Template{}, false
	}
	t := Template{Name: name, Source: data}
	if doc, err := Parse(name+".yaml", data); err == nil {
		t.Description = doc.Description
	}
	return t, true
}
