package ztna

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/admin", "/./admin", "//admin", "/x/../admin", "/%2e%2E/a", "/%61%2f", "/a%5c", "/a/b/..", "/%zz", "a/b", "/%7E/%3f/."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		raw, dec, err := normalizePath(in)
		if err != nil {
			return
		}
		again, dec2, err := normalizePath(raw)
		if err != nil || again != raw || dec2 != dec {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, raw, again, err)
		}
		if !strings.HasPrefix(raw, "/") || strings.Contains(raw, "//") {
			t.Fatalf("%q -> %q: not a clean absolute path", in, raw)
		}
		for _, s := range strings.Split(dec, "/") {
			if s == "." || s == ".." {
				t.Fatalf("%q -> %q: dot segment", in, dec)
			}
		}
		// What the upstream receives (raw, as Go's server parses it) decodes
		// to exactly what policy decided on.
		u, err := url.ParseRequestURI(raw)
		if err != nil || u.Path != dec {
			t.Fatalf("%q: upstream sees %q (%v), policy saw %q", in, u, err, dec)
		}
	})
}
