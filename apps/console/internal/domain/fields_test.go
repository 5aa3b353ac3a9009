package domain

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseLabels: whatever the form sends, ParseLabels never panics, and
// what it accepts passes validLabels and reads back the same through the
// page's own "k=v, k=v" rendering.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"", "team=eng", "team=eng, env=prod", "=x,a=b=c", "a", "a=1,,b=2", "a=1,a=2", " k = v ", "k=\x00", "ключ=v", "a/b.c_d-e=ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		labels, err := ParseLabels("labels", s)
		if err != nil {
			fe, ok := err.(*InvalidError)
			if !ok {
				t.Fatalf("%q: %T is not an InvalidError", s, err)
			}
			if fe.Field != "labels" || fe.Message == "" {
				t.Fatalf("%q: error without field or message: %+v", s, fe)
			}
			return
		}
		if fe := validLabels("labels", labels); fe != nil {
			t.Fatalf("%q: parsed to %v, which validLabels refuses: %v", s, labels, fe)
		}
		var parts []string
		for k, v := range labels {
			parts = append(parts, k+"="+v)
		}
		again, err := ParseLabels("labels", strings.Join(parts, ", "))
		if err != nil || len(again) != len(labels) {
			t.Fatalf("%q: %v does not read back: %v %v", s, labels, again, err)
		}
		for k, v := range labels {
			if again[k] != v {
				t.Fatalf("%q: label %q = %q reads back as %q", s, k, v, again[k])
			}
		}
	})
}

// FuzzDescription: descriptions the check accepts are within their
// documented limits.
func FuzzDescription(f *testing.F) {
	for _, s := range []string{"laptop", "", " x", "a\nb", "a\x00b", "\xff", strings.Repeat("é", 1001)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validDescription("description", s) == nil {
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDescriptionLen || strings.ContainsRune(s, 0) {
				t.Fatalf("validDescription accepted %q", s)
			}
		}
	})
}

// FuzzNameAndPosture: names and postures the validators
// accept are within their documented limits.
func FuzzNameAndPosture(f *testing.F) {
	for _, s := range []string{"laptop", "", " x", "a\nb", "a\x00b", "\xff", strings.Repeat("é", 101), `{"os":"linux"}`, `"not an object"`, `[1]`, `{} {}`, `null`, "ann@example.com", "a@b@c", "@x", "a b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validName("name", s) == nil {
			if s == "" || strings.TrimSpace(s) != s || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameLen || strings.ContainsAny(s, "\n\r\t\x00") {
				t.Fatalf("validName accepted %q", s)
			}
		}
		if validPosture("posture", json.RawMessage(s)) == nil && strings.TrimSpace(s) != "" && strings.TrimSpace(s) != "null" {
			var m map[string]any
			if len(s) > MaxPostureBytes || json.Unmarshal([]byte(s), &m) != nil || m == nil {
				t.Fatalf("validPosture accepted %q", s)
			}
		}
	})
}
