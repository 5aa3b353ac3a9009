package domain

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Who is attached to a USB device or a serial port is derived from the
// events gateways already report, not from their status (which carries
// only counts): a gateway records an allowed "decision" when a USB import
// or a serial connection is authorised, and a "flow" event when that
// connection ends, however it ends (closed by the peer, idle, or cut by a
// re-decision). An attachment is therefore an allowed decision for a usb
// or serial resource that no later flow event of the same user, device
// and gateway has closed. Events of a gateway that stopped reporting
// leave its attachments open: a reader tells them by the gateway's last
// heartbeat.

// Attachment is one user attached to a USB device or serial port.
type Attachment struct {
	Subject string
	Device  string
	Gateway string
	Since   time.Time
	// Detail is the gateway's note on the decision: the USB bus id or
	// the reason.
	Detail string
	// GatewayName is the gateway's name, "" when it is no longer known.
	GatewayName string
	// Stale is set when the gateway is unknown, revoked or has not sent
	// a heartbeat for staleAfter: the attachment may have ended unseen.
	Stale bool
}

// DeviceResource is a usb or serial resource with who is attached now.
type DeviceResource struct {
	Resource    Resource
	Attachments []Attachment
	// LastUse is the last decision or flow seen for the resource.
	LastUse time.Time
}

// staleAfter is how long a gateway may be silent before what it
// reported attached is marked stale.
const staleAfter = 2 * time.Minute

// attachmentWindow is how far back attachments are looked for; a device
// held longer than that is not shown.
const attachmentWindow = 7 * 24 * time.Hour

// AttachmentScan bounds the events read per device: its last 1,000
// events within the window. A device that busy shows the attachments
// opened among them.
const AttachmentScan = 1000

// DeviceResources returns every usb and serial resource with who is
// attached to it now.
func (s *Service) DeviceResources(ctx context.Context, _ Actor) ([]DeviceResource, error) {
	var out []DeviceResource
	if err := eachPage(func(after string) (string, int, error) {
		rs, err := s.st.ListResources(ctx, ListOptions{After: after, Limit: listPage})
		for i := range rs {
			if rs[i].Kind == "usb" || rs[i].Kind == "serial" {
				out = append(out, DeviceResource{Resource: *resourceOf(&rs[i]), Attachments: []Attachment{}})
			}
		}
		return lastKey(len(rs), func() string { return rs[len(rs)-1].Name }), len(rs), err
	}); err != nil {
		return nil, fromStore(err)
	}
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return nil, fromStore(err)
	}
	type gateway struct {
		name  string
		alive bool
	}
	now := s.now()
	gws := make(map[string]gateway, len(gs))
	for _, g := range gs {
		gws[g.ID] = gateway{g.Name, !g.Revoked && now.Sub(g.LastSeen) < staleAfter}
	}
	since := now.Add(-attachmentWindow)
	c := &s.attach
	c.mu.Lock()
	defer c.mu.Unlock()
	logs := make(map[string]*deviceLog, len(out))
	for i := range out {
		name := out[i].Resource.Name
		l := c.logs[name]
		if l == nil {
			l = &deviceLog{}
		}
		if err := l.refresh(ctx, s.st, name); err != nil {
			return nil, fromStore(err)
		}
		logs[name] = l
		l.attachments(&out[i], since)
		for j := range out[i].Attachments {
			a := &out[i].Attachments[j]
			g := gws[a.Gateway]
			a.GatewayName, a.Stale = g.name, !g.alive
		}
	}
	c.logs = logs // forgets resources no longer usb or serial
	return out, nil
}

// attachCache keeps the events each usb or serial resource's
// attachments are derived from, so that a request reads from the log
// only what was appended since the previous one: the log is append-only
// and numbered in commit order, so those are the entries past the last
// one read. Each replica keeps its own. The lock is held while the log
// is read: requests for the page take turns, each reading little.
type attachCache struct {
	mu   sync.Mutex
	logs map[string]*deviceLog // by resource name
}

// deviceLog is a resource's last AttachmentScan events, oldest first,
// with their details decoded.
type deviceLog struct {
	last   int64 // the newest entry read
	events []deviceEvent
}

type deviceEvent struct {
	time                                           time.Time
	actor, action, effect, gateway, device, detail string
}

// refresh reads the resource's entries appended since l.last.
func (l *deviceLog) refresh(ctx context.Context, st store.Store, resource string) error {
	es, err := st.ListAudit(ctx, store.AuditFilter{Resource: resource, After: l.last, Limit: AttachmentScan})
	if err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	if len(es) == AttachmentScan {
		l.events = l.events[:0] // the new entries are all the scan keeps
	}
	// The log answers newest first; keep them oldest first.
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		var det gatewayDetail
		decodeDetail(e.Detail, &det)
		l.events = append(l.events, deviceEvent{e.Time, e.Actor, e.Action, e.Effect, e.Gateway, det.Device, det.Message})
	}
	if n := len(l.events) - AttachmentScan; n > 0 {
		l.events = append(l.events[:0:0], l.events[n:]...)
	}
	l.last = es[0].Seq
	return nil
}

// attachments replays the events since the window's start into d.
func (l *deviceLog) attachments(d *DeviceResource, since time.Time) {
	type key struct{ subject, device, gateway string }
	open := map[key][]Attachment{}
	for _, e := range l.events {
		if e.time.Before(since) {
			continue
		}
		k := key{e.actor, e.device, e.gateway}
		switch e.action {
		case "decision":
			d.LastUse = e.time
			if e.effect == "allow" {
				open[k] = append(open[k], Attachment{Subject: e.actor, Device: e.device, Gateway: e.gateway, Since: e.time, Detail: e.detail})
			}
		case "flow":
			d.LastUse = e.time
			if n := len(open[k]); n > 0 {
				open[k] = open[k][1:]
			}
		}
	}
	for _, as := range open {
		d.Attachments = append(d.Attachments, as...)
	}
	sort.Slice(d.Attachments, func(i, j int) bool {
		a, b := d.Attachments[i], d.Attachments[j]
		return a.Since.Before(b.Since) || a.Since.Equal(b.Since) && a.Subject < b.Subject
	})
}
