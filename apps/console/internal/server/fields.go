package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The limits of free text a person types into the console about users,
// devices and gateways. Each kind of field has one check here, used by
// the REST API and the pages alike; a refused value is a fieldError
// naming the field, and nothing is stored. README's "Field limits" lists
// them; those of policies, resources and groups are the domain's (see
// domain.MaxDescriptionLen).
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
func validName(field, s string) *fieldError {
	switch {
	case strings.TrimSpace(s) == "":
		return &fieldError{field, "required"}
	case strings.TrimSpace(s) != s:
		return &fieldError{field, "must not start or end with spaces"}
	}
	return validText(field, s, MaxNameLen, false)
}

func validText(field, s string, max int, multiline bool) *fieldError {
	if !utf8.ValidString(s) {
		return &fieldError{field, "is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return &fieldError{field, fmt.Sprintf("has %d characters; at most %d are allowed", n, max)}
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\r' || c == '\t')) {
			return &fieldError{field, fmt.Sprintf("has the control character %U; remove it", c)}
		}
	}
	return nil
}

// validPosture checks a device posture: a JSON object of at most
// MaxPostureBytes. Empty and JSON null mean no posture and pass.
func validPosture(field string, raw json.RawMessage) *fieldError {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	if len(t) > MaxPostureBytes {
		return &fieldError{field, fmt.Sprintf("has %d bytes; at most %d are allowed", len(t), MaxPostureBytes)}
	}
	var m map[string]json.RawMessage
	if t[0] != '{' || json.Unmarshal(t, &m) != nil {
		return &fieldError{field, `must be a JSON object, such as {"os":"linux","disk_encrypted":true}`}
	}
	return nil
}
