package domain

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

var ada = Actor{ID: "u-ada", UserID: "u-ada", Role: RoleAdmin, Name: "ada@example.com"}

func TestGroupsAndMembers(t *testing.T) {
	s, st := serviceForTest(t)
	ctx := context.Background()
	var inv *InvalidError
	if _, err := s.PutGroup(ctx, ada, Group{Name: "eng team"}); !errors.As(err, &inv) || inv.Field != "name" {
		t.Errorf("group with a space: %v", err)
	}
	if _, err := s.PutGroup(ctx, ada, Group{Name: "eng", Description: strings.Repeat("d", MaxDescriptionLen+1)}); !errors.As(err, &inv) || inv.Field != "description" {
		t.Errorf("group with a long description: %v", err)
	}
	if _, err := s.PutGroup(ctx, ada, Group{Name: "eng", Description: "engineers"}); err != nil {
		t.Fatal(err)
	}
	if es := auditOf(t, st, "group.put"); len(es) != 1 || es[0].Resource != "eng" || es[0].Actor != ada.ID {
		t.Errorf("group.put entries = %+v", es)
	}

	bob := &store.User{Email: "bob@example.com", Role: RoleViewer, Groups: []string{"ops"}}
	if err := st.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetMember(ctx, ada, " ", bob.ID, true); !errors.As(err, &inv) {
		t.Errorf("member of no group: %v", err)
	}
	if _, err := s.SetMember(ctx, ada, "eng", "nobody@example.com", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("member who does not exist: %v", err)
	}
	for range 2 { // the second adds nothing and records nothing
		m, err := s.SetMember(ctx, ada, "eng", "bob@example.com", true)
		if err != nil || len(m.Groups) != 2 {
			t.Fatalf("add = %+v, %v", m, err)
		}
	}
	es := auditOf(t, st, "group.member.add")
	if len(es) != 1 || es[0].Resource != "eng" || detailOf(t, es[0])["user"] != "bob@example.com" {
		t.Errorf("group.member.add entries = %+v", es)
	}

	ds, err := s.GroupDetails(ctx, ada)
	if err != nil || len(ds) != 2 || ds[0].Name != "eng" || !ds[0].Defined || len(ds[0].Members) != 1 || ds[1].Name != "ops" || ds[1].Defined {
		t.Fatalf("details = %+v, %v", ds, err)
	}
	if _, err := s.GroupDetail(ctx, ada, "none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("detail of no group: %v", err)
	}

	if m, err := s.SetMember(ctx, ada, "eng", bob.ID, false); err != nil || len(m.Groups) != 1 {
		t.Fatalf("remove = %+v, %v", m, err)
	}
	if es := auditOf(t, st, "group.member.remove"); len(es) != 1 {
		t.Errorf("group.member.remove entries = %+v", es)
	}
	if err := s.DeleteGroup(ctx, ada, "eng"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, ada, "eng"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a deleted group: %v", err)
	}
	if es := auditOf(t, st, "group.delete"); len(es) != 1 {
		t.Errorf("group.delete entries = %+v", es)
	}
}
