package analytics

import (
	"fmt"
	"net/netip"
	"time"
)

// A Detector names one anomaly detector. The zero value is not a detector.
type Detector uint8

const (
	ImpossibleTravel Detector = iota + 1
	NewDevice
	NewCountryOrASN
	UnusualHour
	RateSpike
	DenialBurst
	PasswordSpray
	Exfiltration
	ResourceSweep
	DormantAccount

	numDetectors = int(DormantAccount) + 1 // index 0 unused
)

var detectorNames = [numDetectors]string{
	ImpossibleTravel: "impossible_travel",
	NewDevice:        "new_device",
	NewCountryOrASN:  "new_country_or_asn",
	UnusualHour:      "unusual_hour",
	RateSpike:        "rate_spike",
	DenialBurst:      "denial_burst",
	PasswordSpray:    "password_spray",
	Exfiltration:     "exfiltration",
	ResourceSweep:    "resource_sweep",
	DormantAccount:   "dormant_account",
}

// Detectors returns every detector, in a fixed order.
func Detectors() []Detector {
	d := make([]Detector, 0, numDetectors-1)
	for i := 1; i < numDetectors; i++ {
		d = append(d, Detector(i))
	}
	return d
}

// String returns the detector's name as used in alerts and risk signals,
// such as "impossible_travel".
func (d Detector) String() string {
	if d == 0 || int(d) >= numDetectors {
		return fmt.Sprintf("detector(%d)", uint8(d))
	}
	return detectorNames[d]
}

// ParseDetector returns the detector named name.
func ParseDetector(name string) (Detector, error) {
	for i := 1; i < numDetectors; i++ {
		if detectorNames[i] == name {
			return Detector(i), nil
		}
	}
	return 0, fmt.Errorf("analytics: unknown detector %q", name)
}

func (d Detector) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Detector) UnmarshalText(b []byte) error {
	v, err := ParseDetector(string(b))
	if err == nil {
		*d = v
	}
	return err
}

// Severity grades an alert. Higher severities weigh more in the risk score.
type Severity uint8

const (
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"", "low", "medium", "high", "critical"}

// severityWeight is what one alert of a severity adds to the subject's
// signal sum before decay (see score.go).
var severityWeight = [...]float32{0, 10, 25, 45, 70}

func (s Severity) String() string {
	if int(s) < len(severityNames) && s != 0 {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	for i := 1; i < len(severityNames); i++ {
		if severityNames[i] == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("analytics: unknown severity %q", b)
}

// An Alert is one detector firing on one event.
type Alert struct {
	Time     time.Time  `json:"time"`
	Subject  string     `json:"subject,omitempty"` // empty for source-level alerts (password spray)
	Device   string     `json:"device,omitempty"`
	SourceIP netip.Addr `json:"source_ip,omitzero"`
	Detector Detector   `json:"detector"`
	Severity Severity   `json:"severity"`
	// Score is the subject's risk score (or the source's, for source-level
	// alerts) right after this alert was counted.
	Score int `json:"score"`
	// Reason is one sentence a person can read.
	Reason string `json:"reason"`
	// Evidence holds the numbers the detector compared, by name.
	Evidence map[string]any `json:"evidence,omitempty"`
}

// Risk is a subject's current risk: a score from 0 (nothing unusual) to 100,
// and the names of the detectors whose signals still count towards it. It
// is what policies see as risk.score and risk.signals.
type Risk struct {
	Score   int      `json:"score"`
	Signals []string `json:"signals,omitempty"`
}
