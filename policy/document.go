package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A Document is one parsed policy file: rules and the tests that pin down
// what they mean. Parse builds one; Compile turns documents into a Set.
// A Document is not modified after Parse and may be shared.
type Document struct {
	// Name identifies the document in diagnostics, usually its file name.
	Name string
	// Description says what the policy is for.
	Description string
	Rules       []Rule
	Tests       []Test

	source []byte
}

// A Rule allows or denies the requests its selector and condition match.
type Rule struct {
	// ID names the rule in decisions; unique within a set.
	ID          string
	Description string
	Effect      Effect
	// Resources selects the resources the rule is about; the zero Selector
	// matches every resource.
	Resources Selector
	// When is a CEL condition; empty means true.
	When        string
	Obligations Obligations

	line, col int
	when      scalarPos
}

// A Selector picks resources by kind, name and labels. Every part that is
// set must match.
type Selector struct {
	// Kinds the resource may be of; empty means any.
	Kinds []string
	// Names are globs ("*" any run of characters, "?" one character);
	// empty means any name.
	Names []string
	// Labels must all be present on the resource with equal values.
	Labels map[string]string
}

// Obligations are what an allow decision asks the enforcer to apply. When
// several allow rules match, the strictest value of each wins.
type Obligations struct {
	// RequireMFA asks that the subject's session used a second factor.
	RequireMFA bool `json:"require_mfa,omitempty"`
	// MaxSession bounds how long a flow or session may last; zero means no
	// bound.
	MaxSession time.Duration `json:"-"`
	// Log asks that the access be recorded in the audit log in full.
	Log bool `json:"log,omitempty"`
}

// MarshalJSON writes max_session as a duration string such as "8h0m0s".
func (o Obligations) MarshalJSON() ([]byte, error) {
	type plain struct {
		RequireMFA bool   `json:"require_mfa,omitempty"`
		MaxSession string `json:"max_session,omitempty"`
		Log        bool   `json:"log,omitempty"`
	}
	p := plain{RequireMFA: o.RequireMFA, Log: o.Log}
	if o.MaxSession > 0 {
		p.MaxSession = o.MaxSession.String()
	}
	return json.Marshal(p)
}

// A Test is a request with the decision the document's author expects.
type Test struct {
	Name    string
	Request Request
	Expect  Effect
	// Rule, when set, is the id of the rule that must decide.
	Rule string

	line, col int
}

// scalarPos remembers where a scalar's text starts so that positions inside
// it (CEL errors) map back to the file.
type scalarPos struct {
	line, col int
	style     yaml.Style
}

// Limits on what Parse accepts; far above real policies, they keep hostile
// input from exhausting memory or time.
const (
	// MaxDocumentBytes is the largest document Parse reads.
	MaxDocumentBytes = 32 << 20
	maxDepth         = 32
	maxConditionLen  = 16 << 10
)

var ruleIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$`)

// Parse reads a policy document in YAML. name is used in diagnostics. Any
// problem — YAML syntax, an unknown key, a wrong type, a missing field — is
// returned as *Diagnostics wrapping ErrInvalid, with line and column.
// Conditions are only checked by Compile.
func Parse(name string, data []byte) (*Document, error) {
	diags := &Diagnostics{}
	if len(data) > MaxDocumentBytes {
		diags.add(name, 0, 0, "", "document is %d bytes, more than the limit of %d", len(data), MaxDocumentBytes)
		return nil, diags.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			diags.add(name, 1, 1, "", "document is empty")
		} else {
			line, col, msg := yamlSyntaxPosition(data, err)
			diags.add(name, line, col, "", "%s", msg)
		}
		return nil, diags.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		diags.add(name, extra.Line, extra.Column, "", "more than one YAML document in one file")
		return nil, diags.err()
	} else if !errors.Is(err, io.EOF) {
		line, col, msg := yamlSyntaxPosition(data, err)
		diags.add(name, line, col, "", "%s", msg)
		return nil, diags.err()
	}
	p := &parser{file: name, diags: diags}
	if !p.checkShape(&root, 0) {
		return nil, diags.err()
	}
	doc := &Document{Name: name, source: data}
	p.document(root.Content[0], doc)
	if err := diags.err(); err != nil {
		return nil, err
	}
	return doc, nil
}

type parser struct {
	file  string
	diags *Diagnostics
	rule  string
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.diags.add(p.file, n.Line, n.Column, p.rule, format, args...)
}

// checkShape rejects what the schema never needs and an attacker might use:
// aliases (exponential expansion) and deep nesting.
func (p *parser) checkShape(n *yaml.Node, depth int) bool {
	if depth > maxDepth {
		p.errorf(n, "nesting is deeper than %d levels", maxDepth)
		return false
	}
	if n.Kind == yaml.AliasNode {
		p.errorf(n, "YAML aliases are not supported in policy documents")
		return false
	}
	if depth == 0 {
		if n.Kind != yaml.DocumentNode || len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
			line := n.Line
			if len(n.Content) == 1 {
				line = n.Content[0].Line
			}
			p.diags.add(p.file, line, 1, "", "a policy document must be a mapping with rules and tests")
			return false
		}
	}
	for _, c := range n.Content {
		if !p.checkShape(c, depth+1) {
			return false
		}
	}
	return true
}

// fields walks a mapping, calling set for each known key and reporting
// unknown and duplicate keys.
func (p *parser) fields(n *yaml.Node, what string, set map[string]func(v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		f, ok := set[k.Value]
		if !ok {
			p.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, knownKeys(set))
			continue
		}
		f(v)
	}
}

func knownKeys(set map[string]func(*yaml.Node)) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the %s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "something else"
}

func (p *parser) str(n *yaml.Node, what string, dst *string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s must be a string, not %s", what, kindName(n))
		return
	}
	if n.Tag == "!!bool" {
		// A bare yes/no/true in a string field is almost always a
		// mistake; say so rather than guess.
		p.errorf(n, "%s must be a string, not %s (quote it)", what, kindName(n))
		return
	}
	*dst = n.Value
}

func (p *parser) boolean(n *yaml.Node, what string, dst *bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, "%s must be true or false, not %s", what, kindName(n))
		return
	}
	*dst = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
}

func (p *parser) strings(n *yaml.Node, what string, dst *[]string) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		var s string
		p.str(n, what, &s)
		*dst = []string{s}
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a string or a list of strings, not %s", what, kindName(n))
		return
	}
	for _, c := range n.Content {
		var s string
		p.str(c, what+" entry", &s)
		*dst = append(*dst, s)
	}
}

func (p *parser) document(n *yaml.Node, doc *Document) {
	var sawRules bool
	p.fields(n, "the document", map[string]func(*yaml.Node){
		"name":        func(v *yaml.Node) { var s string; p.str(v, "name", &s) },
		"description": func(v *yaml.Node) { p.str(v, "description", &doc.Description) },
		"rules": func(v *yaml.Node) {
			sawRules = true
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "rules must be a list, not %s", kindName(v))
				return
			}
			for _, rn := range v.Content {
				doc.Rules = append(doc.Rules, p.ruleOf(rn))
			}
		},
		"tests": func(v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "tests must be a list, not %s", kindName(v))
				return
			}
			for _, tn := range v.Content {
				doc.Tests = append(doc.Tests, p.testOf(tn))
			}
		},
	})
	if !sawRules {
		p.errorf(n, "the document has no rules key")
	}
}

func (p *parser) ruleOf(n *yaml.Node) Rule {
	r := Rule{line: n.Line, col: n.Column}
	var sawEffect bool
	p.rule = ""
	// Find the id first so that every later diagnostic names the rule.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "id" && n.Content[i+1].Kind == yaml.ScalarNode {
				p.rule = n.Content[i+1].Value
			}
		}
	}
	p.fields(n, "a rule", map[string]func(*yaml.Node){
		"id": func(v *yaml.Node) {
			p.str(v, "id", &r.ID)
			if r.ID != "" && !ruleIDPattern.MatchString(r.ID) {
				p.errorf(v, "id %q must start with a letter or digit and contain only letters, digits and _ . : / -", r.ID)
			}
		},
		"description": func(v *yaml.Node) { p.str(v, "description", &r.Description) },
		"effect": func(v *yaml.Node) {
			sawEffect = true
			var s string
			p.str(v, "effect", &s)
			switch s {
			case "allow":
				r.Effect = Allow
			case "deny":
				r.Effect = Deny
			case "":
			default:
				p.errorf(v, "effect must be allow or deny, not %q", s)
			}
		},
		"resources": func(v *yaml.Node) { p.selector(v, &r.Resources) },
		"when": func(v *yaml.Node) {
			// A bare true or false is a valid condition.
			if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
				r.When = v.Value
			} else {
				p.str(v, "when", &r.When)
			}
			r.when = scalarPos{line: v.Line, col: v.Column, style: v.Style}
			if len(r.When) > maxConditionLen {
				p.errorf(v, "condition is %d bytes, more than the limit of %d", len(r.When), maxConditionLen)
				r.When = ""
			}
		},
		"obligations": func(v *yaml.Node) { p.obligations(v, &r.Obligations) },
	})
	if n.Kind == yaml.MappingNode {
		if r.ID == "" {
			p.errorf(n, "a rule needs an id")
		}
		if !sawEffect {
			p.errorf(n, "a rule needs an effect (allow or deny)")
		}
	}
	p.rule = ""
	return r
}

func (p *parser) selector(n *yaml.Node, s *Selector) {
	p.fields(n, "resources", map[string]func(*yaml.Node){
		"kind": func(v *yaml.Node) {
			p.strings(v, "kind", &s.Kinds)
			for _, k := range s.Kinds {
				if !validKind(k) {
					p.errorf(v, "kind %q is not one of tcp, udp, http, usb, serial", k)
				}
			}
		},
		"names": func(v *yaml.Node) {
			p.strings(v, "names", &s.Names)
			for _, g := range s.Names {
				if g == "" {
					p.errorf(v, "an empty name never matches; leave names out to match every name")
				}
			}
		},
		"labels": func(v *yaml.Node) {
			if v.Kind != yaml.MappingNode {
				p.errorf(v, "labels must be a mapping of strings, not %s", kindName(v))
				return
			}
			s.Labels = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				var key, val string
				p.str(v.Content[i], "label name", &key)
				p.str(v.Content[i+1], "label value", &val)
				if _, dup := s.Labels[key]; dup {
					p.errorf(v.Content[i], "duplicate label %q", key)
				}
				s.Labels[key] = val
			}
		},
	})
}

func (p *parser) obligations(n *yaml.Node, o *Obligations) {
	p.fields(n, "obligations", map[string]func(*yaml.Node){
		"require_mfa": func(v *yaml.Node) { p.boolean(v, "require_mfa", &o.RequireMFA) },
		"log":         func(v *yaml.Node) { p.boolean(v, "log", &o.Log) },
		"max_session": func(v *yaml.Node) {
			var s string
			p.str(v, "max_session", &s)
			if s == "" {
				return
			}
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errorf(v, "max_session must be a positive duration such as 8h or 30m, not %q", s)
				return
			}
			o.MaxSession = d
		},
	})
}

func (p *parser) testOf(n *yaml.Node) Test {
	t := Test{line: n.Line, col: n.Column}
	var sawExpect, sawRequest bool
	p.fields(n, "a test", map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { p.str(v, "name", &t.Name) },
		"expect": func(v *yaml.Node) {
			sawExpect = true
			var s string
			p.str(v, "expect", &s)
			switch s {
			case "allow":
				t.Expect = Allow
			case "deny":
				t.Expect = Deny
			default:
				p.errorf(v, "expect must be allow or deny, not %q", s)
			}
		},
		"rule": func(v *yaml.Node) { p.str(v, "rule", &t.Rule) },
		"request": func(v *yaml.Node) {
			sawRequest = true
			if v.Kind != yaml.MappingNode {
				p.errorf(v, "request must be a mapping, not %s", kindName(v))
				return
			}
			// The request has exactly the JSON form; decode it through
			// JSON so that both spellings stay one.
			data, err := json.Marshal(nodeValue(v))
			if err != nil {
				p.errorf(v, "request: %v", err)
				return
			}
			r, err := ParseRequest(data)
			if err != nil {
				p.errorf(v, "%s", strings.TrimPrefix(err.Error(), "policy: "))
				return
			}
			t.Request = *r
		},
	})
	if n.Kind == yaml.MappingNode {
		if t.Name == "" {
			p.errorf(n, "a test needs a name")
		}
		if !sawExpect {
			p.errorf(n, "test %q needs expect: allow or deny", t.Name)
		}
		if !sawRequest {
			p.errorf(n, "test %q needs a request", t.Name)
		}
	}
	return t
}

// nodeValue converts a YAML node to the values encoding/json understands.
// Shapes were bounded by checkShape.
func nodeValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = nodeValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = nodeValue(c)
		}
		return l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

// Source returns the bytes the document was parsed from.
func (d *Document) Source() []byte { return d.source }
