package domain

import (
	"context"
	"errors"
	"strconv"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/policy"
)

// blankPolicy is where "New policy" starts when no shipped template fits
// beside the enabled policies: it changes no decision (its one rule
// refuses a name no resource has) and its test passes, so the editor
// opens without failures and nothing is allowed by accident.
const blankPolicy = `description: >-
  A new policy. Replace the example rule with the rules this policy is
  for; nothing is allowed until a rule allows it.
rules:
  - id: new-policy-example
    description: An example rule; change its resources and condition
    effect: deny
    resources:
      names: ["example.invalid"]
tests:
  - name: the example rule refuses its resource
    request:
      subject: {id: ann}
      resource: {kind: http, name: example.invalid}
    expect: deny
    rule: new-policy-example
`

// PolicyStart picks what the "New policy" editor opens with: the first
// shipped template (policy.Templates) whose name is free and that passes
// its own tests and those of the enabled set with it in place, else
// blankPolicy under a free name. It never starts from a draft that would
// allow everything or fail a test.
func (s *Service) PolicyStart(ctx context.Context, a Actor) (name, source string) {
	for _, t := range policy.Templates() {
		if s.policyNameTaken(ctx, t.Name) {
			continue
		}
		if v := s.ValidatePolicy(ctx, a, t.Name, string(t.Source)); v.OK {
			return t.Name, string(t.Source)
		}
	}
	name = "new-policy"
	for i := 2; s.policyNameTaken(ctx, name); i++ {
		name = "new-policy-" + strconv.Itoa(i)
	}
	return name, blankPolicy
}

func (s *Service) policyNameTaken(ctx context.Context, name string) bool {
	_, err := s.st.Policy(ctx, name)
	return !errors.Is(err, store.ErrNotFound)
}
