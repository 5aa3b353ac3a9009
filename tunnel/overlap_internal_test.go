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

// FuzzSetPeers applies a sequence of peer sets to one tunnel. A set with
// a duplicate key or two peers' prefixes overlapping (by the pairwise
// definition) must be refused and leave the running set as it was; any
// other must become the running set, with every prefix routed to its
// peer and nothing left from earlier sets.
func FuzzSetPeers(f *testing.F) {
	f.Add([]byte{0, 10, 0, 0, 2, 32, 1, 10, 0, 0, 3, 32, 0xff, 1, 10, 0, 0, 2, 32, 0, 10, 0, 0, 3, 32})
	f.Add([]byte{0, 10, 0, 0, 0, 24, 1, 10, 0, 0, 9, 32, 0xff, 2, 10, 0, 0, 0, 16})
	f.Add([]byte{0, 10, 0, 0, 2, 32, 0, 10, 0, 0, 2, 32})
	f.Fuzz(func(t *testing.T, b []byte) {
		priv, _ := GeneratePrivateKey()
		tun, err := New(context.Background(), Config{PrivateKey: priv, Addresses: []netip.Prefix{netip.MustParsePrefix("10.200.0.1/32")}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tun.Close()
		// 0xff ends a set; otherwise one byte picks the peer (of four)
		// and five more give an IPv4 prefix.
		var sets [][]PeerConfig
		var cur []PeerConfig
		for i := 0; i < len(b) && len(sets) < 4; {
			if b[i] == 0xff || i+6 > len(b) {
				sets = append(sets, cur)
				cur = nil
				i++
				continue
			}
			k := Key{b[i]%4 + 1}
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte(b[i+1:i+5])), int(b[i+5]%33))
			j := -1
			for n := range cur {
				if cur[n].PublicKey == k && len(cur[n].AllowedIPs) < 3 && b[i]&4 == 0 {
					j = n
				}
			}
			if j < 0 {
				cur = append(cur, PeerConfig{PublicKey: k})
				j = len(cur) - 1
			}
			cur[j].AllowedIPs = append(cur[j].AllowedIPs, p)
			i += 6
		}
		sets = append(sets, cur)
		for _, set := range sets {
			before := tun.Config().Peers
			bad := false
			for x := range set {
				for y := range set {
					if x == y {
						continue
					}
					if set[x].PublicKey == set[y].PublicKey {
						bad = true
					}
					for _, px := range set[x].AllowedIPs {
						for _, py := range set[y].AllowedIPs {
							bad = bad || px.Overlaps(py)
						}
					}
				}
			}
			err := tun.SetPeers(context.Background(), set)
			if bad {
				if err == nil {
					t.Fatalf("SetPeers(%v) accepted a set with a duplicate or an overlap", set)
				}
				if after := tun.Config().Peers; fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatalf("refused SetPeers changed the peers: %v -> %v", before, after)
				}
				continue
			}
			if err != nil {
				t.Fatalf("SetPeers(%v): %v", set, err)
			}
			got := map[Key]string{}
			for _, p := range tun.Config().Peers {
				got[p.PublicKey] = fmt.Sprint(p.AllowedIPs)
			}
			if len(got) != len(set) {
				t.Fatalf("after SetPeers(%v): peers %v", set, tun.Config().Peers)
			}
			for _, p := range set {
				if got[p.PublicKey] != fmt.Sprint(p.AllowedIPs) {
					t.Fatalf("after SetPeers(%v): peer %v has %s", set, p.PublicKey, got[p.PublicKey])
				}
				for _, a := range p.AllowedIPs {
					if k, ok := tun.WhoIs(a.Masked().Addr()); !ok || k != p.PublicKey {
						t.Fatalf("after SetPeers(%v): WhoIs(%v) = %v, %v", set, a.Masked().Addr(), k, ok)
					}
				}
			}
		}
	})
}
