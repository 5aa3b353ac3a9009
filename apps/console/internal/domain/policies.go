package domain

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Policy is a policy document at its current version.
type Policy struct {
	Name    string
	Version int
	Source  string
	Author  string
	Message string
	Time    time.Time
	Enabled bool
}

// PolicyVersion is one saved version of a policy; versions are never
// changed or deleted.
type PolicyVersion struct {
	Name    string
	Version int
	Source  string
	Author  string
	Message string
	Time    time.Time
}

func policyOf(p *store.Policy) *Policy {
	return &Policy{Name: p.Name, Version: p.Version, Source: p.Source, Author: p.Author, Message: p.Message, Time: p.Time, Enabled: p.Enabled}
}

func policyVersionOf(v *store.PolicyVersion) *PolicyVersion {
	return &PolicyVersion{Name: v.Name, Version: v.Version, Source: v.Source, Author: v.Author, Message: v.Message, Time: v.Time}
}

// ListPolicies returns a page of policies, by name.
func (s *Service) ListPolicies(ctx context.Context, _ Actor, o ListOptions) ([]Policy, error) {
	ps, err := s.st.ListPolicies(ctx, o)
	if err != nil {
		return nil, fromStore(err)
	}
	return valuesOf(ps, func(r *store.Policy) Policy { return *policyOf(r) }), nil
}

// Policy returns the policy named name at its current version.
func (s *Service) Policy(ctx context.Context, _ Actor, name string) (*Policy, error) {
	p, err := s.st.Policy(ctx, name)
	if err != nil {
		return nil, fromStore(err)
	}
	return policyOf(p), nil
}

// PolicyVersions returns every version of a policy, newest first.
func (s *Service) PolicyVersions(ctx context.Context, _ Actor, name string) ([]PolicyVersion, error) {
	vs, err := s.st.PolicyVersions(ctx, name)
	if err != nil {
		return nil, fromStore(err)
	}
	return valuesOf(vs, func(r *store.PolicyVersion) PolicyVersion { return *policyVersionOf(r) }), nil
}

// PolicyChange is a new version of a policy.
type PolicyChange struct {
	Name, Source, Message string
}

// SavePolicy validates a draft and, when it compiles and its tests pass
// on their own and the enabled policy set with the draft in place
// compiles and passes every document's tests (see checkSet), saves it as
// the policy's next version, signed with the actor's name. A refused
// draft (*InvalidPolicyError) leaves the stored versions as they were.
func (s *Service) SavePolicy(ctx context.Context, a Actor, in PolicyChange) (*PolicyVersion, error) {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if err := s.validateChange(ctx, in.Name, in.Source, false); err != nil {
		return nil, err
	}
	var pv *store.PolicyVersion
	save := func() error {
		var err error
		pv, err = s.st.SavePolicy(ctx, in.Name, in.Source, a.Name, in.Message)
		return fromStore(err)
	}
	var err error
	if _, e := s.st.Policy(ctx, in.Name); errors.Is(e, store.ErrNotFound) {
		err = s.withinQuota(ctx, quotaPolicies, 1, save) // a new policy
	} else {
		err = save()
	}
	if err != nil {
		return nil, err
	}
	s.record(ctx, a, "policy.save", in.Name, "", map[string]any{"version": pv.Version, "message": in.Message})
	return policyVersionOf(pv), nil
}

// DeletePolicy deletes a policy and its versions unless the remaining
// enabled policies would fail as a set (another document's tests
// relying on it): that is an *InvalidPolicyError.
func (s *Service) DeletePolicy(ctx context.Context, a Actor, name string) error {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if _, err := s.st.Policy(ctx, name); err != nil {
		return fromStore(err)
	}
	if err := s.validateChange(ctx, name, "", true); err != nil {
		return err
	}
	if err := s.st.DeletePolicy(ctx, name); err != nil {
		return fromStore(err)
	}
	s.record(ctx, a, "policy.delete", name, "", nil)
	return nil
}

// RollbackPolicy saves an earlier version's source as the next version,
// after the same checks as SavePolicy: an old version may no longer fit
// the other documents. Rolling back to the current version is invalid.
func (s *Service) RollbackPolicy(ctx context.Context, a Actor, name string, version int) (*PolicyVersion, error) {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	if cur, err := s.st.Policy(ctx, name); err == nil && cur.Version == version {
		return nil, &InvalidError{Message: "version " + strconv.Itoa(version) + " is already the current version"}
	}
	old, err := s.st.PolicyVersion(ctx, name, version)
	if err != nil {
		return nil, fromStore(err)
	}
	if err := s.validateChange(ctx, name, old.Source, false); err != nil {
		return nil, err
	}
	pv, err := s.st.SavePolicy(ctx, name, old.Source, a.Name, "rollback to version "+strconv.Itoa(version))
	if err != nil {
		return nil, fromStore(err)
	}
	s.record(ctx, a, "policy.rollback", name, "", map[string]int{"to": version, "version": pv.Version})
	return policyVersionOf(pv), nil
}

// PolicyDiff is a line diff between two versions of a policy.
type PolicyDiff struct {
	From, To int
	Lines    []DiffLine
}

// PolicyDiff compares version from with version to of a policy: to 0 is
// the current version, from 0 the one before to.
func (s *Service) PolicyDiff(ctx context.Context, _ Actor, name string, from, to int) (*PolicyDiff, error) {
	if to == 0 {
		p, err := s.st.Policy(ctx, name)
		if err != nil {
			return nil, fromStore(err)
		}
		to = p.Version
	}
	if from == 0 {
		from = max(to-1, 1)
	}
	a, err := s.st.PolicyVersion(ctx, name, from)
	if err != nil {
		return nil, fromStore(err)
	}
	b, err := s.st.PolicyVersion(ctx, name, to)
	if err != nil {
		return nil, fromStore(err)
	}
	return &PolicyDiff{From: from, To: to, Lines: diffLines(a.Source, b.Source)}, nil
}
