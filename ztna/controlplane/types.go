package controlplane

import (
	"encoding/json"
	"time"
)

// MaxWait bounds the long-poll wait of a bundle request.
const MaxWait = 30 * time.Second

// MaxBatch is the most events one EventBatch may carry.
const MaxBatch = 5000

// RegisterRequest trades a one-time registration token for a Credential.
type RegisterRequest struct {
	Token   string `json:"token"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// A Credential is a gateway's identity at the console.
type Credential struct {
	GatewayID string `json:"gateway_id"`
	Secret    string `json:"secret"`
}

// Bearer is the Authorization header value for the credential.
func (c Credential) Bearer() string { return "Bearer " + c.GatewayID + "." + c.Secret }

// A Bundle is the whole configuration a gateway enforces, at one version.
// A gateway applies a bundle atomically: all of it or none.
type Bundle struct {
	// Version increases with every change in the console that affects
	// gateways.
	Version   int64      `json:"version"`
	Generated time.Time  `json:"generated"`
	Policies  []Policy   `json:"policies"`
	Resources []Resource `json:"resources"`
	Users     []Identity `json:"users"`
	Devices   []Device   `json:"devices"`
}

// Policy is one policy document at its current version.
type Policy struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Source is the YAML document, as policy.Parse reads it.
	Source string `json:"source"`
}

// Resource is a protected resource.
type Resource struct {
	Name    string            `json:"name"`
	Kind    string            `json:"kind"` // tcp, udp, http, usb, serial
	Address string            `json:"address"`
	Port    int               `json:"port,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Identity is a user as policy sees it.
type Identity struct {
	ID       string   `json:"id"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
}

// Device is an enrolled WireGuard peer. A gateway refuses a device that is
// disabled, whose owner is disabled, or whose session has expired.
type Device struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Owner     string `json:"owner"` // Identity.ID
	PublicKey string `json:"public_key"`
	// Address is the device's tunnel address, e.g. "100.64.0.7/32".
	Address  string `json:"address,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
	// Posture is the device's posture facts in the policy.Device JSON form.
	Posture json.RawMessage `json:"posture,omitempty"`
	// PostureSource is who asserted Posture ("person", "device" or
	// empty); it becomes device.posture_source, whatever Posture says.
	PostureSource string `json:"posture_source,omitempty"`
	// SessionExpires ends the device's session; the zero time never does.
	SessionExpires time.Time `json:"session_expires,omitzero"`
	// MFATime is when the owner last completed MFA for this device's
	// session; it feeds subject.mfa and subject.auth_time.
	MFATime time.Time `json:"mfa_time,omitzero"`
}

// An Event is something a gateway observed: a decision, a closed flow, an
// alert. ID must be unique per event (a random 128-bit hex string is what
// NewEventID makes); the console stores each ID once.
type Event struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // one of EventKinds
	Subject  string    `json:"subject,omitempty"`
	Device   string    `json:"device,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Effect   string    `json:"effect,omitempty"` // allow, deny
	Rule     string    `json:"rule,omitempty"`
	Source   string    `json:"source,omitempty"`
	Bytes    int64     `json:"bytes,omitempty"`
	// Request is the decided request in the policy.Request JSON form; the
	// console replays recorded requests in what-if simulations.
	Request json.RawMessage `json:"request,omitempty"`
	Message string          `json:"message,omitempty"`
	// Alert is set on events of kind "alert": what the gateway's
	// analytics detected. Message carries the alert's reason.
	Alert *Alert `json:"alert,omitempty"`
}

// The kinds of event a gateway sends: the console refuses any other, so
// that a gateway's credential never writes a console action (a login, a
// policy save) into the audit log.
const (
	// KindDecision is a policy decision on a new flow or an HTTP request.
	KindDecision = "decision"
	// KindFlow is a closed flow, with its bytes.
	KindFlow = "flow"
	// KindRevoke is a live flow cut by a re-decision.
	KindRevoke = "revoke"
	// KindAlert is an analytics alert; the event's Alert holds it.
	KindAlert = "alert"
	// KindDevicePresent and KindDeviceAbsent report a USB or serial
	// device appearing at or leaving its connector.
	KindDevicePresent = "device_present"
	KindDeviceAbsent  = "device_absent"
)

// EventKinds lists every kind a console accepts from a gateway.
var EventKinds = []string{KindDecision, KindFlow, KindRevoke, KindAlert, KindDevicePresent, KindDeviceAbsent}

// An Alert is an analytics alert a gateway raised (analytics.Alert in
// wire form). The console stores it once per event ID as one of its
// alerts, to be acknowledged and resolved there.
type Alert struct {
	// Detector is the detector's name, such as "denial_burst".
	Detector string `json:"detector"`
	// Severity is low, medium, high or critical.
	Severity string `json:"severity"`
	// Score is the subject's (or, without a subject, the source's) risk
	// score on the gateway right after the alert.
	Score int `json:"score"`
	// Evidence holds the numbers the detector compared, by name.
	Evidence json.RawMessage `json:"evidence,omitempty"`
}

// SubjectRisk is a subject's current risk score on a gateway, as policies
// there see it in risk.score and risk.signals.
type SubjectRisk struct {
	Subject string   `json:"subject"`
	Score   int      `json:"score"`
	Signals []string `json:"signals,omitempty"`
}

// MaxRisk is the most subjects a Status reports risk for: the highest
// scores are kept.
const MaxRisk = 1000

// LocalResource is a resource a gateway serves from its own configuration
// rather than from a console's bundle. The console lists it, read-only,
// beside its own resources.
type LocalResource struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // tcp, udp, http, usb, serial
	Port int    `json:"port,omitempty"`
}

// MaxLocalResources is the most local resources a Status reports; the
// console refuses a longer list.
const MaxLocalResources = 1000

// EventBatch is the body of POST /cp/v1/events.
type EventBatch struct {
	Events []Event `json:"events"`
}

// EventAck answers an EventBatch: every event of the batch that is not
// in Rejected is now stored. Duplicates counts events that had been
// stored before. Rejected lists the events the console refused and will
// refuse however often they are sent (an unknown kind, a subject or
// device outside the gateway's bundle, a missing id); the rest of the
// batch is stored all the same, so one bad event never holds back a
// gateway's spool.
type EventAck struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected,omitempty"`
}

// A Rejection names one refused event of an EventBatch and says why.
type Rejection struct {
	// Index is the event's position in the batch, ID its id.
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// Status is a gateway's heartbeat.
type Status struct {
	Time          time.Time `json:"time"`
	Version       string    `json:"version,omitempty"`
	BundleVersion int64     `json:"bundle_version"`
	Peers         int       `json:"peers"`
	Flows         int       `json:"flows"`
	BytesIn       int64     `json:"bytes_in,omitempty"`
	BytesOut      int64     `json:"bytes_out,omitempty"`
	Healthy       bool      `json:"healthy"`
	Message       string    `json:"message,omitempty"`
	// PublicKey is the gateway's WireGuard public key, Endpoint the
	// host:port devices reach it at (empty when the gateway is not told),
	// DNS its address inside the tunnel, which resolves resource names,
	// and Routes the prefixes a device sends to it. The console fills the
	// wg-quick configs of devices it enrols with them where its own
	// settings say nothing.
	PublicKey string   `json:"public_key,omitempty"`
	Endpoint  string   `json:"endpoint,omitempty"`
	DNS       string   `json:"dns,omitempty"`
	Routes    []string `json:"routes,omitempty"`
	// Risk lists the subjects whose risk score on the gateway is above
	// zero (at most MaxRisk, highest first): the gateway's analytics see
	// every flow it carries, so the console prefers these scores to what
	// it computes from the alerts it stores.
	Risk []SubjectRisk `json:"risk,omitempty"`
	// Resources lists the resources the gateway serves from its own
	// configuration (at most MaxLocalResources), so that the console
	// shows them beside the ones it hands out.
	Resources []LocalResource `json:"resources,omitempty"`
}
