package domain

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

var olga = Actor{ID: "apikey:k1", Role: RoleOperator, Name: "apikey:ops"}

func TestPutResource(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	for _, c := range []struct {
		in    Resource
		field string
	}{
		{Resource{Name: "x.corp", Kind: "smb", Address: "10.0.0.1:445"}, ""},
		{Resource{Name: "x.corp", Kind: "usb", Port: 70000}, ""},
		{Resource{Name: "bad_name", Kind: "tcp", Address: "10.0.0.1:22"}, "name"},
		{Resource{Name: "x.corp", Kind: "tcp", Address: "10.0.0.1"}, "port"},
		{Resource{Name: "x.corp", Kind: "tcp", Address: " "}, "address"},
		{Resource{Name: "x.corp", Kind: "tcp", Address: "10.0.0.1:22", Labels: map[string]string{"a": "b=c"}}, "labels"},
		{Resource{Name: "x.corp", Kind: "tcp", Address: "10.0.0.1:22", Note: strings.Repeat("n", MaxDescriptionLen+1)}, "note"},
	} {
		_, err := s.PutResource(ctx, olga, c.in)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != c.field {
			t.Errorf("%+v: %v, want invalid %q", c.in, err, c.field)
		}
	}
	if es := auditOf(t, st, "resource.put"); len(es) != 0 {
		t.Fatalf("refused resources were recorded: %+v", es)
	}

	x, err := s.PutResource(ctx, olga, Resource{Name: "wiki.corp", Kind: "http", Address: " 10.0.0.2 ", Labels: map[string]string{"team": "eng"}})
	if err != nil || x.Address != "10.0.0.2" {
		t.Fatalf("put = %+v, %v", x, err)
	}
	es := auditOf(t, st, "resource.put")
	if len(es) != 1 || es[0].Actor != olga.ID || es[0].Resource != "wiki.corp" {
		t.Fatalf("resource.put entries = %+v", es)
	}
	if d := detailOf(t, es[0]); d["name"] != "wiki.corp" || d["kind"] != "http" || d["address"] != "10.0.0.2" {
		t.Errorf("resource.put detail = %v", d)
	}
	if got, err := s.Resource(ctx, olga, "wiki.corp"); err != nil || got.Labels["team"] != "eng" {
		t.Errorf("get = %+v, %v", got, err)
	}
	if rs, err := s.ListResources(ctx, olga, ListOptions{}); err != nil || len(rs) != 1 {
		t.Errorf("list = %+v, %v", rs, err)
	}

	if err := s.DeleteResource(ctx, olga, "wiki.corp"); err != nil {
		t.Fatal(err)
	}
	if es := auditOf(t, st, "resource.delete"); len(es) != 1 || es[0].Resource != "wiki.corp" {
		t.Errorf("resource.delete entries = %+v", es)
	}
	if _, err := s.Resource(ctx, olga, "wiki.corp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of a deleted resource: %v", err)
	}
	if err := s.DeleteResource(ctx, olga, "wiki.corp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a deleted resource: %v", err)
	}
}

// FuzzValidateResource feeds the resource check arbitrary input: it must
// not panic, and what it accepts for tcp must give the gateway an
// upstream host:port it can parse, with a port in range, the way the
// gateway builds it (ztna's bundleResource).
func FuzzValidateResource(f *testing.F) {
	f.Add("wiki.corp", "10.0.0.1:22", 0)
	f.Add("db", "db.internal", 5432)
	f.Add("v6.corp", "fd00::1", 22)
	f.Add("x.corp", "[fd00::1]:22", 0)
	f.Add("bad_name", "10.0.0.1:0", 70000)
	f.Add("a..b", "[::1", -1)
	f.Fuzz(func(t *testing.T, name, address string, port int) {
		if validateResource(name, "tcp", address, port) != nil {
			return
		}
		up := address
		if _, _, err := net.SplitHostPort(up); err != nil || port != 0 {
			up = net.JoinHostPort(address, strconv.Itoa(port))
		}
		h, p, err := net.SplitHostPort(up)
		n, perr := strconv.Atoi(p)
		if err != nil || h == "" || perr != nil || n < 1 || n > 65535 {
			t.Fatalf("accepted %q %q %d, but the gateway's upstream %q does not parse", name, address, port, up)
		}
	})
}
