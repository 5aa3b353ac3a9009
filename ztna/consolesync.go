package ztna

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gonaut/gonaut/tunnel"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// SyncOptions configure Gateway.SyncConsole. A nil *SyncOptions means the
// defaults.
type SyncOptions struct {
	// Version is the gateway software's version, reported in its status.
	Version string
	// Heartbeat is how often the status is pushed besides right after
	// each applied bundle. Default: 10s.
	Heartbeat time.Duration
	// Applied, when set, is called on SyncConsole's goroutine after each
	// bundle, with ApplyBundle's error (nil: now enforced).
	Applied func(b *controlplane.Bundle, err error)
}

// SyncConsole keeps a console-managed gateway in step with its console
// until ctx is done: it long-polls cp for bundles newer than the one d
// serves and applies each with ApplyBundle (a refused bundle is logged and
// the running configuration stays), and pushes the gateway's status —
// bundle version, peers, flows, health, and the risk score of every
// subject scoring above zero on the gateway's analytics — right after
// every applied bundle and every Heartbeat, so the console sees within moments which version
// each gateway enforces. Events go to the console through ConsoleAudit,
// not through SyncConsole.
//
// It returns ctx's error, or the error that ended the long poll for good
// (the console refused the credential: the gateway was removed there).
// While the console is unreachable it retries, and the gateway keeps
// enforcing the last bundle it applied.
func (g *Gateway) SyncConsole(ctx context.Context, cp *controlplane.Client, d *ConsoleDirectory, opts *SyncOptions) error {
	var o SyncOptions
	if opts != nil {
		o = *opts
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	kick := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		for {
			st := g.consoleStatus(d)
			st.Version = o.Version
			if err := cp.PushStatus(ctx, st); err != nil && ctx.Err() == nil {
				g.log.Warn("console status", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-kick:
			}
		}
	}()
	err := cp.Watch(ctx, d.Version(), func(b *controlplane.Bundle) {
		err := g.ApplyBundle(ctx, d, b)
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
	cancel()
	wg.Wait()
	return err
}

// consoleStatus is the gateway's heartbeat: what it enforces, how busy it
// is, and what a device's wg-quick config needs to reach it.
func (g *Gateway) consoleStatus(d *ConsoleDirectory) controlplane.Status {
	cfg := g.Config()
	st := controlplane.Status{
		Time: time.Now().UTC(), BundleVersion: d.Version(),
		Peers: len(d.Peers()), Flows: g.ActiveFlows(), Healthy: g.Ready(),
		PublicKey: g.PublicKey().String(), Endpoint: cfg.Endpoint, DNS: g.Address().String(),
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
