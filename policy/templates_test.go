package policy_test

import (
	"context"
	"testing"

	"github.com/gonaut/gonaut/policy"
)

func TestTemplatesCompileAndPass(t *testing.T) {
	ts := policy.Templates()
	if len(ts) < 3 {
		t.Fatalf("got %d templates, want at least enterprise, small-business and iot", len(ts))
	}
	for _, tpl := range ts {
		t.Run(tpl.Name, func(t *testing.T) {
			doc, err := policy.Parse(tpl.Name+".yaml", tpl.Source)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Tests) < 5 {
				t.Errorf("template has %d tests; a template should pin down its meaning with at least 5", len(doc.Tests))
			}
			set, err := policy.Compile([]*policy.Document{doc}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range set.Tests(context.Background()) {
				if !r.Passed {
					t.Error(r.Failure())
				}
			}
			if tpl.Description == "" {
				t.Error("template has no description")
			}
		})
	}
}
