package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"strings"
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

// TestUAPISetOverlapRefused sends a UAPI set that gives a second peer an
// address inside the first one's prefix; the stock-wg test covers the
// socket, this one runs where wg(8) is not installed.
func TestUAPISetOverlapRefused(t *testing.T) {
	priv, _ := GeneratePrivateKey()
	tun, err := New(context.Background(), Config{PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.5.1.1/32")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	ka, kb := Key{1}, Key{2}
	for _, req := range []string{
		fmt.Sprintf("public_key=%x\nallowed_ip=10.6.0.0/16\n\n", ka[:]),
		fmt.Sprintf("public_key=%x\nallowed_ip=10.6.3.4/32\n\n", kb[:]),
	} {
		r, err := readUAPISet(bufio.NewReader(strings.NewReader(req)))
		if err != nil {
			t.Fatal(err)
		}
		err = tun.applyUAPISet(r)
		if strings.Contains(req, "10.6.3.4") {
			if err == nil || !strings.Contains(err.Error(), ka.String()) || !strings.Contains(err.Error(), kb.String()) {
				t.Fatalf("overlapping set: err = %v, want one naming both peers", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if k, ok := tun.WhoIs(netip.MustParseAddr("10.6.3.4")); !ok || k != ka || len(tun.Config().Peers) != 1 {
		t.Errorf("after a refused set: WhoIs = %v, %v; peers %v", k, ok, tun.Config().Peers)
	}
}

// TestUAPISetMovesPrefix moves an address from one peer to another in one
// UAPI set that names the new holder first. The request as a whole has
// no overlap, so it must apply, with the address taken from the old
// holder before the new one gets it.
func TestUAPISetMovesPrefix(t *testing.T) {
	priv, _ := GeneratePrivateKey()
	tun, err := New(context.Background(), Config{PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.5.1.1/32")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	ka, kb := Key{1}, Key{2}
	for _, req := range []string{
		fmt.Sprintf("public_key=%x\nallowed_ip=10.6.0.2/32\n\n", ka[:]),
		fmt.Sprintf("public_key=%x\nallowed_ip=10.6.0.2/32\npublic_key=%x\nreplace_allowed_ips=true\nallowed_ip=10.6.0.3/32\n\n", kb[:], ka[:]),
	} {
		r, err := readUAPISet(bufio.NewReader(strings.NewReader(req)))
		if err != nil {
			t.Fatal(err)
		}
		if err := tun.applyUAPISet(r); err != nil {
			t.Fatalf("set %q: %v", req, err)
		}
	}
	for addr, want := range map[string]Key{"10.6.0.2": kb, "10.6.0.3": ka} {
		if k, ok := tun.WhoIs(netip.MustParseAddr(addr)); !ok || k != want {
			t.Errorf("WhoIs(%s) = %v, %v; want %v", addr, k, ok, want)
		}
	}
}
