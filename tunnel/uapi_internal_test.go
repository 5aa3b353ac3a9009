package tunnel

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzUAPISet feeds arbitrary set requests to the UAPI parser: it must
// never panic, and what it accepts has only well-formed values.
func FuzzUAPISet(f *testing.F) {
	f.Add("public_key=" + strings.Repeat("ab", 32) + "\nallowed_ip=10.0.0.0/8\nendpoint=127.0.0.1:1\n\n")
	f.Add("private_key=" + strings.Repeat("01", 32) + "\nlisten_port=51820\nreplace_peers=true\n\n")
	f.Add("public_key=zz\n\n")
	f.Fuzz(func(t *testing.T, req string) {
		r, err := readUAPISet(bufio.NewReader(strings.NewReader(req)))
		if err != nil {
			return
		}
		for _, p := range r.peers {
			for _, c := range p.allowed {
				if !c.prefix.IsValid() {
					t.Fatalf("accepted an invalid prefix in %q", req)
				}
			}
			if p.endpoint != nil && !p.endpoint.IsValid() {
				t.Fatalf("accepted an invalid endpoint in %q", req)
			}
		}
	})
}
