package domain

import "encoding/json"

// gatewayDetail is the part of a gateway event's audit detail that the
// operations here read back (the control plane writes the whole of it):
// the device, the gateway's note and the policy request decided.
type gatewayDetail struct {
	Device  string          `json:"device,omitempty"`
	Message string          `json:"message,omitempty"`
	Request json.RawMessage `json:"request,omitempty"`
}

// decodeDetail reads an audit entry's detail; entries the console wrote
// itself have other shapes and leave d empty.
func decodeDetail(raw json.RawMessage, d *gatewayDetail) {
	if len(raw) > 0 {
		json.Unmarshal(raw, d)
	}
}
