package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The limits of free text a person types into the console, as the
// server's README "Field limits" lists them. A refused value is an
// InvalidError naming the field, and nothing is stored.
const (
	// MaxNameLen bounds display names (devices, users, gateways), in
	// characters.
	MaxNameLen = 100
	// MaxPostureBytes bounds a device's posture document.
	MaxPostureBytes = 16 << 10
)

// validName checks a display name: 1 to MaxNameLen characters of UTF-8
// text without control characters, and no surrounding spaces (the caller
// trims what a form sends).
func validName(field, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return Invalid(field, "required")
	case strings.TrimSpace(s) != s:
		return Invalid(field, "must not start or end with spaces")
	}
	return validText(field, s, MaxNameLen, false)
}

func validText(field, s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return Invalid(field, fmt.Sprintf("has %d characters; at most %d are allowed", n, max))
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\r' || c == '\t')) {
			return Invalid(field, fmt.Sprintf("has the control character %U; remove it", c))
		}
	}
	return nil
}

// validPosture checks a device posture: a JSON object of at most
// MaxPostureBytes. Empty and JSON null mean no posture and pass.
func validPosture(field string, raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	if len(t) > MaxPostureBytes {
		return Invalid(field, fmt.Sprintf("has %d bytes; at most %d are allowed", len(t), MaxPostureBytes))
	}
	var m map[string]json.RawMessage
	if t[0] != '{' || json.Unmarshal(t, &m) != nil {
		return Invalid(field, `must be a JSON object, such as {"os":"linux","disk_encrypted":true}`)
	}
	return nil
}
