package ztna

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// followConsole keeps a console-managed gateway in step with its console
// until the gateway closes: it long-polls o.Client for bundles newer than
// the one the gateway enforces and applies each with ApplyBundle (a
// refused bundle is logged and the running configuration stays), while a
// second goroutine pushes the gateway's ConsoleStatus right after every
// applied bundle and every o.Heartbeat, so the console sees within
// moments which version each gateway enforces. Events go to the console
// through ConsoleAudit, not through here.
//
// While the console is unreachable the poll retries, and the gateway
// keeps enforcing the last bundle it applied. The poll ends for good only
// when the console refuses the credential (the gateway was removed
// there); that is logged, and the gateway runs on with what it has.
func (g *Gateway) followConsole(o ConsoleOptions) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	kick := make(chan struct{}, 1)
	g.spawn(func() {
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		for {
			if err := o.Client.PushStatus(ctx, g.ConsoleStatus()); err != nil && ctx.Err() == nil {
				g.log.Warn("console status", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-kick:
			}
		}
	})
	err := o.Client.Watch(ctx, g.console.version(), func(b *controlplane.Bundle) {
		err := g.ApplyBundle(ctx, b)
		if err != nil {
			g.log.Error("console bundle refused; the running configuration stays", "version", b.Version, "err", err)
		} else {
			g.log.Info("console bundle applied", "version", b.Version, "devices", len(b.Devices), "policies", len(b.Policies), "resources", len(b.Resources))
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		if o.Applied != nil {
			o.Applied(b, err)
		}
	})
	if err != nil && g.ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		g.log.Error("console sync stopped", "err", err)
	}
}

// ConsoleStatus is what the gateway reports to its console on every
// heartbeat: the bundle version it enforces in full (0: none yet, or not
// managed by a console), how many of the bundle's devices are peers, its
// flows and health, the risk of every subject scoring above zero, its own
// configuration's resources, and what a device's wg-quick config needs
// to reach it.
func (g *Gateway) ConsoleStatus() controlplane.Status {
	d := g.console
	cfg := g.Config()
	st := controlplane.Status{
		Time: time.Now().UTC(), BundleVersion: d.version(), Version: g.consoleOpts.Version,
		Flows: g.ActiveFlows(), Healthy: g.Ready(),
		PublicKey: g.PublicKey().String(), Endpoint: cfg.Endpoint, DNS: g.Address().String(),
	}
	if d != nil {
		st.Peers = len(d.Peers())
	}
	for _, r := range g.Risks() {
		if len(st.Risk) == controlplane.MaxRisk {
			break
		}
		st.Risk = append(st.Risk, controlplane.SubjectRisk{Subject: r.Subject, Score: r.Score, Signals: r.Signals})
	}
	st.Resources = g.localResources()
	if pc, err := PeerConfig(cfg, g.PublicKey(), tunnel.Key{}, g.Address(), "-"); err == nil && len(pc.Peers) == 1 {
		for _, p := range pc.Peers[0].AllowedIPs {
			st.Routes = append(st.Routes, p.String())
		}
	}
	return st
}

// localResources are the resources of the gateway's own configuration, as
// its status reports them: the console's resources are the console's to
// list already.
func (g *Gateway) localResources() []controlplane.LocalResource {
	st := g.state.Load()
	var out []controlplane.LocalResource
	for _, rc := range st.local.Resources {
		if len(out) == controlplane.MaxLocalResources {
			break
		}
		lr := controlplane.LocalResource{Name: rc.Name, Kind: string(rc.Kind), Port: rc.Port}
		if r := st.byName[strings.ToLower(rc.Name)]; r != nil {
			lr.Port = int(r.port)
		}
		out = append(out, lr)
	}
	return out
}
