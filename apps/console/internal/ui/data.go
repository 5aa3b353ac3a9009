package ui

import (
	"encoding/json"
	"time"
)

// Page is what every page's layout needs.
type Page struct {
	Title string
	// User is the logged-in user's email; empty on the login page.
	User string
	Role string
	// CSRF is the session's token, sent by every form and htmx request.
	CSRF string
	// Nav is the current section, e.g. "policies".
	Nav string
	// Flash is a toast shown once.
	Flash string
	Error string
	// Platform shows the platform page in the navigation: the reader is
	// one of the platform's administrators.
	Platform bool
	// Support is the organisation the reader is reading with its
	// support access, "" when she is not.
	Support string
}

// Login is the login page.
type Login struct {
	Page
	Email string
	Next  string
	// Organisation is the tenant signed in to ("" the default); the
	// field is shown when AskOrganisation, that is once the console
	// serves tenants besides the default.
	Organisation    string
	AskOrganisation bool
	// Providers are the organisation's single sign-on buttons.
	Providers []SignInButton
}

// SignInButton starts a single sign-on with one identity provider.
type SignInButton struct{ Name, URL string }

// Stats are the dashboard's numbers and charts.
type Stats struct {
	Decisions, Allowed, Denied int
	Gateways, Healthy          int
	OpenAlerts                 int
	// ExpiringKeys are the reader's API keys that expire within a week.
	ExpiringKeys []string
	Bytes        int64
	Chart        string // SVG, drawn by DecisionsChart
	Donut        string // SVG, drawn by AllowDenyDonut
	Top          []Count
}

// Count is a labelled number.
type Count struct {
	Label string
	N     int
}

// Row is one line of a table: cells of text.
type Row struct {
	ID    string
	Cells []string
	// Titles, when set, are the cells' hover texts, one per cell (""
	// for none): the id behind a name shown in the cell.
	Titles []string
	// Href, when set, links the first cell.
	Href string
	// Tone colours the row: "", "allow", "deny", "muted".
	Tone string
	// Actions, when not nil, replaces the list's RowActions for this row
	// (empty: none), so that a row offers only what applies to it.
	Actions []string
}

// ActionsOr is the row's actions: its own when set, else def.
func (r Row) ActionsOr(def []string) []string {
	if r.Actions != nil {
		return r.Actions
	}
	return def
}

// Table is a titled table.
type Table struct {
	Head []string
	Rows []Row
}

// Diag is one diagnostic or test result in the policy editor.
type Diag struct {
	Line, Column int
	Message      string
}

// TestRow is one policy test result.
type TestRow struct {
	Name    string
	Passed  bool
	Failure string
}

// Editor is the policy editor page.
type Editor struct {
	Page
	Name    string
	Source  string
	Version int
	IsNew   bool
}

// Validation is the editor's live panel.
type Validation struct {
	OK    bool
	Rules int
	Diags []Diag
	Tests []TestRow
}

// Simulation is the editor's what-if panel.
type Simulation struct {
	Total, Changed, NowAllowed, NowDenied, RuleOnly int
	Changes                                         []Row
	Invalid                                         bool
	// Unreplayable says which recorded decisions could not be replayed
	// and why, one line each ("3 with no request recorded").
	Unreplayable []string
}

// Version is one line of a policy's history.
type Version struct {
	Version int
	Author  string
	Message string
	Time    time.Time
}

// History is a policy's history page with a diff.
type History struct {
	Page
	Name     string
	Versions []Version
	From, To int
	Diff     []DiffLine
	// Current is the version in force; it offers no rollback.
	Current int
	// Confirm, when set, is the version a rollback to waits to be
	// confirmed.
	Confirm int
}

// DiffLine is one line of a diff.
type DiffLine struct {
	Op, Text string
}

// Template is one template of the gallery.
type Template struct {
	Name, Description, Source string
}

// List is a generic list page: a table, a search box, a create form.
type List struct {
	Page
	Heading string
	Query   string
	Table   Table
	// Next is the URL of the next page, if any.
	Next string
	// Form is the create form's fields; nil: no form.
	Form   []Field
	Action string
	Submit string
	// Result is shown after a create, e.g. a token or a config.
	Result *Result
	// RowActions are buttons per row posting to Action+"/"+row.ID+"/"+name.
	RowActions []string
	// Filters are extra filter inputs above the table.
	Filters []Field
	// Links are extra links (exports).
	Links []Link
	// Filtered says the table is narrowed by a search or filter, so an
	// empty one means no entry matches rather than none exists.
	Filtered bool
	// Choice, when set, adds a column with a select and a button per row,
	// posting the chosen value to Action+"/"+row.ID+"/"+Choice.Name.
	Choice *Choice
}

// Title is r's hover text for cell i, "" for none.
func (r Row) Title(i int) string {
	if i < len(r.Titles) {
		return r.Titles[i]
	}
	return ""
}

// Choice is a per-row select, such as a user's role.
type Choice struct {
	Name, Label string
	Options     []string
	// Values are the current values by row ID.
	Values map[string]string
}

// Field is one labelled form control.
type Field struct {
	Name, Label, Value, Type string
	Options                  []string
	Required                 bool
}

// Link is a labelled URL.
type Link struct {
	Label, URL string
}

// Result shows something created once: a secret, a config, a QR code.
type Result struct {
	Title string
	Text  string
	// QR is a base64 PNG.
	QR    string
	Lines []string
}

// Account is the user's own page: TOTP enrolment and password change.
type Account struct {
	Page
	TOTPEnabled bool
	Secret      string
	QR          string
	Recovery    []string
}

// Audit is the audit log page.
type Audit struct {
	List
	Verify *VerifyResult
}

// VerifyResult is a chain verification.
type VerifyResult struct {
	OK       bool
	Entries  int64
	BrokenAt int64
	Reason   string
}

// Pretty formats JSON for display.
func Pretty(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
