package tunnel

import (
	"net/netip"
	"testing"
)

// FuzzCheckOverlaps compares checkOverlaps with the pairwise definition on
// up to eight prefixes split between two peers.
func FuzzCheckOverlaps(f *testing.F) {
	f.Add([]byte{10, 0, 0, 2, 32, 10, 0, 0, 0, 24}, uint8(1))
	f.Add([]byte{10, 0, 0, 0, 16, 10, 1, 0, 0, 16}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		peers := []PeerConfig{{PublicKey: Key{1}}, {PublicKey: Key{2}}}
		for i := 0; i+5 <= len(b) && i < 40; i += 5 {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte(b[i:i+4])), int(b[i+4]%33))
			owner := 0
			if split>>(i/5)&1 == 1 {
				owner = 1
			}
			peers[owner].AllowedIPs = append(peers[owner].AllowedIPs, p)
		}
		want := false
		for _, x := range peers[0].AllowedIPs {
			for _, y := range peers[1].AllowedIPs {
				want = want || x.Overlaps(y)
			}
		}
		if got := checkOverlaps(peers) != nil; got != want {
			t.Fatalf("checkOverlaps(%v, %v) refused = %v, want %v", peers[0].AllowedIPs, peers[1].AllowedIPs, got, want)
		}
	})
}
