// Package wgquicktest checks, for the console's tests, the shape of the
// wg-quick files the console hands to devices.
package wgquicktest

import (
	"strings"
	"testing"
)

// keys are the only keys a device's wg-quick file may carry.
var keys = map[string]bool{"PrivateKey": true, "Address": true, "DNS": true, "PublicKey": true, "AllowedIPs": true, "Endpoint": true, "PersistentKeepalive": true}

// CheckKeys fails t unless cfg has one [Interface] and one [Peer]
// section, each key of the expected set at most once, and comments.
func CheckKeys(t testing.TB, cfg string) {
	t.Helper()
	seen := map[string]int{}
	for line := range strings.SplitSeq(cfg, "\n") {
		switch {
		case line == "", strings.HasPrefix(line, "# "):
		case line == "[Interface]" || line == "[Peer]":
			seen[line]++
		default:
			k, _, ok := strings.Cut(line, " = ")
			if !ok || !keys[k] {
				t.Fatalf("unexpected line %q in:\n%s", line, cfg)
			}
			seen[k]++
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s appears %d times in:\n%s", k, n, cfg)
		}
	}
}
