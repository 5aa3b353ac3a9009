package ztna

import (
	"net/url"
	"strings"
	"testing"
)

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/admin", "/./admin", "//admin", "/x/../admin", "/%2e%2E/a", "/%61%2f", "/a%5c", "/a/b/..", "/%zz", "a/b", "/%7E/%3f/.", "/x%2F..%2Fadmin", "/a%252Fb", "/%2f%2F/.."} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, keep bool) {
		raw, dec, err := normalizePath(in, keep)
		if err != nil {
			return
		}
		again, dec2, err := normalizePath(raw, keep)
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
		// What the upstream receives (raw, as Go's server parses it)
		// decodes to exactly what policy decided on; with keep, once the
		// escapes policy sees kept are decoded too.
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			t.Fatalf("%q: upstream cannot parse %q: %v", in, raw, err)
		}
		want := dec
		if keep {
			want = strings.NewReplacer("%25", "%", "%2F", "/", "%5C", `\`).Replace(dec)
		} else if strings.Contains(raw, "%2F") || strings.Contains(raw, "%5C") {
			t.Fatalf("%q -> %q: encoded slash forwarded without keep", in, raw)
		}
		if u.Path != want {
			t.Fatalf("%q: upstream sees %q, policy saw %q", in, u.Path, dec)
		}
		// The request line the proxy writes is raw itself.
		if out := (&url.URL{Path: u.Path, RawPath: raw}).EscapedPath(); out != raw {
			t.Fatalf("%q: forwarded as %q, want %q", in, out, raw)
		}
	})
}
