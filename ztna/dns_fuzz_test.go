package ztna

import (
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func dnsTestGateway() *Gateway {
	g := &Gateway{}
	r := &resource{cfg: ResourceConfig{Name: "wiki.corp", Kind: "http"}, addr: netip.MustParseAddr("10.78.0.1"), port: 80}
	g.state.Store(&state{byName: map[string]*resource{"wiki.corp": r}})
	return g
}

func query(name string, t dnsmessage.Type) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET})
	out, _ := b.Finish()
	return out
}

func TestAnswerDNS(t *testing.T) {
	g := dnsTestGateway()
	cases := []struct {
		name    string
		q       []byte
		rcode   dnsmessage.RCode
		answers int
	}{
		{"A", query("wiki.corp.", dnsmessage.TypeA), dnsmessage.RCodeSuccess, 1},
		{"case", query("WIKI.Corp.", dnsmessage.TypeA), dnsmessage.RCodeSuccess, 1},
		{"AAAA of a v4 resource", query("wiki.corp.", dnsmessage.TypeAAAA), dnsmessage.RCodeSuccess, 0},
		{"unknown", query("nope.corp.", dnsmessage.TypeA), dnsmessage.RCodeNameError, 0},
	}
	for _, tc := range cases {
		var p dnsmessage.Parser
		h, err := p.Start(g.answerDNS(tc.q))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p.SkipAllQuestions()
		as, _ := p.AllAnswers()
		if h.ID != 7 || !h.Response || h.RCode != tc.rcode || len(as) != tc.answers {
			t.Errorf("%s: header %+v, %d answers", tc.name, h, len(as))
		}
		if len(as) == 1 && as[0].Body.(*dnsmessage.AResource).A != [4]byte{10, 78, 0, 1} {
			t.Errorf("%s: answer %v", tc.name, as[0].Body)
		}
	}
	if g.answerDNS([]byte{1, 2, 3}) != nil {
		t.Error("answered garbage")
	}
}

// FuzzAnswerDNS: any datagram gets no answer or a well-formed one, never a
// panic.
func FuzzAnswerDNS(f *testing.F) {
	g := dnsTestGateway()
	f.Add(query("wiki.corp.", dnsmessage.TypeA))
	f.Add(query("x.", dnsmessage.TypeTXT))
	f.Add([]byte{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, q []byte) {
		out := g.answerDNS(q)
		if out == nil {
			return
		}
		var p dnsmessage.Parser
		if _, err := p.Start(out); err != nil {
			t.Fatalf("malformed answer: %v", err)
		}
	})
}
