package domain

import (
	"context"

	"github.com/gonaut/gonaut/apps/console/internal/store"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// Bundle reads the whole configuration at the current version, as
// gateway g sees it: the resources are those assigned to no gateway or to
// g (by id or name). The version is read first: a change racing with the
// read bumps it again, so the gateway pulls once more and never keeps a
// stale bundle. The bundle is the control plane's wire type: it is what
// the gateway is sent, field for field.
func (s *Service) Bundle(ctx context.Context, g Gateway) (*controlplane.Bundle, error) {
	b, err := s.bundle(ctx, g)
	return b, fromStore(err)
}

func (s *Service) bundle(ctx context.Context, g Gateway) (*controlplane.Bundle, error) {
	v, err := s.st.ConfigVersion(ctx)
	if err != nil {
		return nil, err
	}
	b := &controlplane.Bundle{Version: v, Generated: s.now(), Policies: []controlplane.Policy{}, Resources: []controlplane.Resource{}, Users: []controlplane.Identity{}, Devices: []controlplane.Device{}}
	if err := eachPage(func(after string) (string, int, error) {
		ps, err := s.st.ListPolicies(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, p := range ps {
			if p.Enabled {
				b.Policies = append(b.Policies, controlplane.Policy{Name: p.Name, Version: p.Version, Source: p.Source})
			}
		}
		return lastKey(len(ps), func() string { return ps[len(ps)-1].Name }), len(ps), err
	}); err != nil {
		return nil, err
	}
	if err := eachPage(func(after string) (string, int, error) {
		rs, err := s.st.ListResources(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, r := range rs {
			if r.Gateway != "" && r.Gateway != g.ID && r.Gateway != g.Name {
				continue
			}
			b.Resources = append(b.Resources, controlplane.Resource{Name: r.Name, Kind: r.Kind, Address: r.Address, Port: r.Port, Labels: r.Labels})
		}
		return lastKey(len(rs), func() string { return rs[len(rs)-1].Name }), len(rs), err
	}); err != nil {
		return nil, err
	}
	disabled := map[string]bool{}
	if err := eachPage(func(after string) (string, int, error) {
		us, err := s.st.ListUsers(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, u := range us {
			disabled[u.ID] = u.Disabled
			b.Users = append(b.Users, controlplane.Identity{ID: u.ID, Email: u.Email, Groups: u.Groups, Roles: []string{string(u.Role)}, Disabled: u.Disabled})
		}
		return lastKey(len(us), func() string { return us[len(us)-1].ID }), len(us), err
	}); err != nil {
		return nil, err
	}
	if err := eachPage(func(after string) (string, int, error) {
		ds, err := s.st.ListDevices(ctx, "", store.ListOptions{After: after, Limit: 1000})
		for _, d := range ds {
			b.Devices = append(b.Devices, controlplane.Device{
				ID: d.ID, Name: d.Name, Owner: d.Owner, PublicKey: d.PublicKey, Address: d.Address,
				Disabled: d.Disabled || disabled[d.Owner], Posture: d.Posture, PostureSource: d.PostureSource, SessionExpires: d.SessionExpires, MFATime: d.MFATime,
			})
		}
		return lastKey(len(ds), func() string { return ds[len(ds)-1].ID }), len(ds), err
	}); err != nil {
		return nil, err
	}
	return b, nil
}
