package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// RiskRow is one user on the analytics page.
type RiskRow struct {
	Subject         string
	Score           int
	From            string // where Score comes from: "gateway NAME" or "console"
	Signals         string
	Alerts, Open    int
	Allowed, Denied int
	LastAlert       string
	Href            string

	// SubjectID is the id events name the user by, shown on hover when
	// Subject is her email.
	SubjectID string
}

// Analytics is the analytics page: risk per user and detector hits.
type Analytics struct {
	Page
	RiskChart string
	HitsChart string
	Risks     []RiskRow
	// Detectors are the detectors with hits in the window, with totals,
	// in the charts' colour order.
	Detectors []Count
	// Hours is the hits table: one row per hour with hits.
	Hours []Row
}

// KV is one labelled value.
type KV struct {
	Key, Value string
}

// AlertDetail is one alert with its evidence.
type AlertDetail struct {
	Page
	ID, Time, Severity, Kind, Subject, Message, State string
	// SubjectName is what Subject, an id, is shown as; "" for the id.
	SubjectName string
	// Evidence is the evidence object's fields, in key order.
	Evidence []KV
	// Raw is the evidence as indented JSON.
	Raw string
	// Risk is the subject's current risk score, -1 when unknown.
	Risk      int
	CanChange bool
}

// Evidence flattens an alert's evidence JSON into sorted key/value pairs
// and an indented copy; evidence that is not an object becomes one pair.
func Evidence(raw []byte) ([]KV, string) {
	if len(raw) == 0 {
		return nil, ""
	}
	var ind bytes.Buffer
	if json.Indent(&ind, raw, "", "  ") != nil {
		return []KV{{"evidence", string(raw)}}, string(raw)
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return []KV{{"evidence", Pretty(raw)}}, ind.String()
	}
	out := make([]KV, 0, len(m))
	for k, v := range m {
		var val string
		switch x := v.(type) {
		case string:
			val = x
		case float64:
			val = fmt.Sprint(x)
		default:
			b, _ := json.Marshal(x)
			val = string(b)
		}
		out = append(out, KV{k, val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, ind.String()
}

// Member is one member of a group.
type Member struct {
	ID, Email, Name, Role string
}

// GroupView is one group on the groups page.
type GroupView struct {
	Name, Description string
	Defined           bool
	Members           []Member
}

// RoleView is one console role and who holds it.
type RoleView struct {
	Name, Can string
	Users     []string
}

// Groups is the groups and roles page.
type Groups struct {
	Page
	Groups []GroupView
	Roles  []RoleView
	// RoleNames are the choices of the role form.
	RoleNames []string
	Admin     bool
}

// AttachView is one user attached to a device.
type AttachView struct {
	Subject, Device, Gateway, Since, Detail string
	// SubjectID and DeviceID are the ids behind the names in Subject
	// and Device, for hover; "" when those show the ids themselves.
	SubjectID, DeviceID string
	// Stale is set when the gateway has stopped reporting.
	Stale bool
}

// DeviceView is one USB device or serial port.
type DeviceView struct {
	Name, Kind, Address, Gateway, LastUse string
	Attached                              []AttachView
}

// Attachments is the USB and serial page.
type Attachments struct {
	Page
	Devices []DeviceView
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

// DOMID turns a name into an id attribute: letters and digits are kept,
// anything else becomes a dash.
func DOMID(prefix, name string) string {
	b := []byte(prefix)
	for _, c := range []byte(name) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b = append(b, c)
		} else {
			b = append(b, '-')
		}
	}
	return string(b)
}
