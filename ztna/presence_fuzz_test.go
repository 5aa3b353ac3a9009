package ztna

import (
	"encoding/json"
	"testing"
)

func TestParsePresence(t *testing.T) {
	good := `{"usb":[{"bus_id":"1-1","vendor_id":1,"product_id":2}],"serial":[{"port":2217,"path":"/dev/ttyUSB0","present":true}]}`
	r, err := parsePresence([]byte(good))
	if err != nil || len(r.USB) != 1 || r.USB[0].BusID != "1-1" || !r.Serial[0].Present {
		t.Fatalf("parsePresence(%s) = %+v, %v", good, r, err)
	}
	for _, bad := range []string{
		``,
		`[]`,
		`{"usb":[{"bus_id":""}]}`,
		`{"usb":[{"bus_id":"../1"}]}`,
		`{"usb":[{"bus_id":"1-1"},{"bus_id":"1-1"}]}`,
		`{"usb":[{"bus_id":"1-11111111111111111111111111111111"}]}`,
		`{"serial":[{"port":0}]}`,
		`{"serial":[{"port":70000}]}`,
		`{"serial":[{"port":1,"path":"a\u0000b"}]}`,
		`{"extra":1}`,
		`{"usb":[{"bus_id":"1-1","vendor_id":70000}]}`,
	} {
		if _, err := parsePresence([]byte(bad)); err == nil {
			t.Errorf("parsePresence(%q) accepted", bad)
		}
	}
}

// FuzzPresence feeds the parser of connectors' presence reports: it must
// never panic, and what it accepts must satisfy the checks the gateway
// relies on.
func FuzzPresence(f *testing.F) {
	f.Add([]byte(`{"usb":[{"bus_id":"1-1","vendor_id":1,"product_id":2}],"serial":[{"port":2217,"path":"/dev/ttyUSB0","present":true}]}`))
	f.Add([]byte(`{"usb":null,"serial":null}`))
	f.Add([]byte(`{"usb":[{"bus_id":"1-1"},{"bus_id":"1-1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parsePresence(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range r.USB {
			if !validBusID(d.BusID) || seen[d.BusID] {
				t.Fatalf("accepted bus id %q", d.BusID)
			}
			seen[d.BusID] = true
		}
		for _, s := range r.Serial {
			if s.Port < 1 || s.Port > 65535 {
				t.Fatalf("accepted port %d", s.Port)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
