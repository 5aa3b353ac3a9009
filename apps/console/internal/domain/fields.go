package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The limits of free text a person types into the console about
// policies, resources and groups. Each kind of field has one check here,
// used whichever transport the text came through; a refused value is an
// InvalidError naming the field, and nothing is stored. README's "Field
// limits" lists them.
const (
	// MaxDescriptionLen bounds descriptions and notes (policies and
	// their rules, groups, resources), in characters.
	MaxDescriptionLen = 1000
	// MaxLabels bounds the labels of one resource.
	MaxLabels = 32
	// MaxLabelKeyLen and MaxLabelValueLen bound one label, in bytes and
	// characters.
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 256
)

// validDescription checks a description: at most MaxDescriptionLen
// characters of UTF-8 text; line breaks and tabs are the only control
// characters allowed. Empty is fine.
func validDescription(field, s string) *InvalidError {
	return validText(field, s, MaxDescriptionLen, true)
}

func validText(field, s string, max int, multiline bool) *InvalidError {
	if !utf8.ValidString(s) {
		return &InvalidError{field, "is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return &InvalidError{field, fmt.Sprintf("has %d characters; at most %d are allowed", n, max)}
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\r' || c == '\t')) {
			return &InvalidError{field, fmt.Sprintf("has the control character %U; remove it", c)}
		}
	}
	return nil
}

// validLabels checks a resource's labels: at most MaxLabels, each key 1
// to MaxLabelKeyLen of letters, digits and . _ - /, each value at most
// MaxLabelValueLen characters without control characters, ',' or '='
// (which the pages' "k=v, k=v" form could not show back).
func validLabels(field string, labels map[string]string) *InvalidError {
	if len(labels) > MaxLabels {
		return &InvalidError{field, fmt.Sprintf("has %d labels; at most %d are allowed", len(labels), MaxLabels)}
	}
	for k, v := range labels {
		if k == "" {
			return &InvalidError{field, "a label has an empty key; write key=value"}
		}
		if len(k) > MaxLabelKeyLen {
			return &InvalidError{field, fmt.Sprintf("label key %.20q… is longer than %d characters", k, MaxLabelKeyLen)}
		}
		for _, c := range []byte(k) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
				return &InvalidError{field, fmt.Sprintf("label key %q has %q (letters, digits and . _ - / only)", k, c)}
			}
		}
		if strings.ContainsAny(v, ",=") {
			return &InvalidError{field, fmt.Sprintf("label %q: the value may not contain ',' or '='", k)}
		}
		if fe := validText(field, v, MaxLabelValueLen, false); fe != nil {
			return &InvalidError{field, fmt.Sprintf("label %q: the value %s", k, fe.Message)}
		}
	}
	return nil
}

// ParseLabels reads the text form of labels that the pages use,
// "key=value, key=value" (empty for none), and checks the result as
// PutResource would. Every item needs exactly one '='; a key given twice
// is refused. A refusal is an *InvalidError about field.
func ParseLabels(field, s string) (map[string]string, error) {
	labels := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return labels, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, &InvalidError{field, "has an empty item; separate labels with single commas"}
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, &InvalidError{field, fmt.Sprintf("%.40q has no '='; write key=value", item)}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := labels[k]; dup {
			return nil, &InvalidError{field, fmt.Sprintf("label %q is given twice", k)}
		}
		labels[k] = v
		if len(labels) > MaxLabels {
			break // validLabels says so
		}
	}
	if fe := validLabels(field, labels); fe != nil {
		return nil, fe
	}
	return labels, nil
}

// The limits of what describes devices, users and gateways.
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
	if fe := validText(field, s, MaxNameLen, false); fe != nil {
		return fe
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
