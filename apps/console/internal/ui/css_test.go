package ui

import (
	"maps"
	"regexp"
	"testing"
)

// TestDarkThemeBlocksAgree checks that the dark colours chosen by the
// system (prefers-color-scheme) and by the theme button are the same,
// and that every colour the light theme defines has a dark value: the
// accessibility test checks contrast with the button's theme only.
func TestDarkThemeBlocksAgree(t *testing.T) {
	data, err := Static.(interface{ ReadFile(string) ([]byte, error) }).ReadFile("app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(data)
	decls := regexp.MustCompile(`(--[a-z0-9-]+)\s*:\s*([^;}]+)`)
	collect := func(re string) map[string]string {
		m := map[string]string{}
		for _, block := range regexp.MustCompile(re).FindAllStringSubmatch(css, -1) {
			for _, d := range decls.FindAllStringSubmatch(block[1], -1) {
				m[d[1]] = d[2]
			}
		}
		return m
	}
	system := collect(`@media \(prefers-color-scheme: dark\) \{ :root:not\(\[data-theme=light\]\) \{([^}]*)\} \}`)
	button := collect(`:root\[data-theme=dark\] \{([^}]*)\}`)
	light := collect(`(?m)^:root \{([^}]*)\}`)
	if len(button) < 10 {
		t.Fatalf("found only %d dark variables: the pattern no longer matches app.css", len(button))
	}
	if !maps.Equal(system, button) {
		t.Errorf("system dark theme %v\n differs from the button's %v", system, button)
	}
	for k := range light {
		if _, ok := button[k]; !ok && k != "--focus" {
			t.Errorf("%s has no dark value", k)
		}
	}
}
