package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gonaut/gonaut/policy"
)

// The limits of free text a person types into the console. Each kind of
// field has one check here, used by the REST API and the pages alike; a
// refused value is a fieldError naming the field, and nothing is stored.
// README's "Field limits" lists them.
const (
	// MaxNameLen bounds display names (devices, users, gateways), in
	// characters.
	MaxNameLen = 100
	// MaxDescriptionLen bounds descriptions and notes (policies and
	// their rules, groups, resources), in characters.
	MaxDescriptionLen = 1000
	// MaxLabels bounds the labels of one resource.
	MaxLabels = 32
	// MaxLabelKeyLen and MaxLabelValueLen bound one label, in bytes and
	// characters.
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 256
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

// validDescription checks a description: at most MaxDescriptionLen
// characters of UTF-8 text; line breaks and tabs are the only control
// characters allowed. Empty is fine.
func validDescription(field, s string) *fieldError {
	return validText(field, s, MaxDescriptionLen, true)
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

// validLabels checks a resource's labels: at most MaxLabels, each key 1
// to MaxLabelKeyLen of letters, digits and . _ - /, each value at most
// MaxLabelValueLen characters without control characters, ',' or '='
// (which the pages' "k=v, k=v" form could not show back).
func validLabels(field string, labels map[string]string) *fieldError {
	if len(labels) > MaxLabels {
		return &fieldError{field, fmt.Sprintf("has %d labels; at most %d are allowed", len(labels), MaxLabels)}
	}
	for k, v := range labels {
		if k == "" {
			return &fieldError{field, "a label has an empty key; write key=value"}
		}
		if len(k) > MaxLabelKeyLen {
			return &fieldError{field, fmt.Sprintf("label key %.20q… is longer than %d characters", k, MaxLabelKeyLen)}
		}
		for _, c := range []byte(k) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
				return &fieldError{field, fmt.Sprintf("label key %q has %q (letters, digits and . _ - / only)", k, c)}
			}
		}
		if strings.ContainsAny(v, ",=") {
			return &fieldError{field, fmt.Sprintf("label %q: the value may not contain ',' or '='", k)}
		}
		if fe := validText(field, v, MaxLabelValueLen, false); fe != nil {
			return &fieldError{field, fmt.Sprintf("label %q: the value %s", k, fe.Message)}
		}
	}
	return nil
}

// parseLabels reads the pages' label syntax, "key=value, key=value"
// (empty for none), and checks the result with validLabels. Every item
// needs exactly one '='; a key given twice is refused.
func parseLabels(field, s string) (map[string]string, *fieldError) {
	labels := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return labels, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, &fieldError{field, "has an empty item; separate labels with single commas"}
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, &fieldError{field, fmt.Sprintf("%.40q has no '='; write key=value", item)}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := labels[k]; dup {
			return nil, &fieldError{field, fmt.Sprintf("label %q is given twice", k)}
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

// descriptionProblems holds a policy's descriptions, its own and its
// rules', to validDescription.
func descriptionProblems(doc *policy.Document) []Diagnostic {
	var ds []Diagnostic
	if fe := validDescription("description", doc.Description); fe != nil {
		ds = append(ds, Diagnostic{Message: fe.Error()})
	}
	for _, r := range doc.Rules {
		if fe := validDescription("description", r.Description); fe != nil {
			ds = append(ds, Diagnostic{Rule: r.ID, Message: "rule " + r.ID + ": " + fe.Error()})
		}
	}
	return ds
}
