package policy

import "fmt"

// Effect is the outcome of a rule or a decision. The zero Effect is Deny, so
// a Decision nobody filled in denies.
type Effect uint8

const (
	Deny Effect = iota
	Allow
)

func (e Effect) String() string {
	if e == Allow {
		return "allow"
	}
	return "deny"
}

// MarshalText writes "allow" or "deny".
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads "allow" or "deny".
func (e *Effect) UnmarshalText(b []byte) error {
	switch string(b) {
	case "allow":
		*e = Allow
	case "deny":
		*e = Deny
	default:
		return fmt.Errorf("policy: effect must be allow or deny, not %q", b)
	}
	return nil
}
