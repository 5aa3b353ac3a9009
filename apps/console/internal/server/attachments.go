package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
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
// leave its attachments open: the page marks them with the gateway's
// last heartbeat so that a reader can tell.

// Attachment is one user attached to a USB device or serial port.
type Attachment struct {
	Subject string    `json:"subject"`
	Device  string    `json:"device,omitempty"`
	Gateway string    `json:"gateway"`
	Since   time.Time `json:"since"`
	// Detail is the gateway's note on the decision: the USB bus id or
	// the reason.
	Detail string `json:"detail,omitempty"`
}

// DeviceResource is a usb or serial resource with who is attached now.
type DeviceResource struct {
	Resource    store.Resource `json:"resource"`
	Attachments []Attachment   `json:"attachments"`
	// LastUse is the last decision or flow seen for the resource.
	LastUse time.Time `json:"last_use,omitzero"`
}

// attachmentWindow is how far back attachments are looked for; a device
// held longer than that is not shown.
const attachmentWindow = 7 * 24 * time.Hour

// attachmentScan bounds the events read per device: its last 1,000
// events within the window. A device that busy shows the attachments
// opened among them.
const attachmentScan = 1000

func (s *Server) deviceResources(ctx context.Context) ([]DeviceResource, error) {
	var out []DeviceResource
	if err := eachPage(func(after string) (string, int, error) {
		rs, err := s.st.ListResources(ctx, store.ListOptions{After: after, Limit: 1000})
		for _, x := range rs {
			if x.Kind == "usb" || x.Kind == "serial" {
				out = append(out, DeviceResource{Resource: x, Attachments: []Attachment{}})
			}
		}
		return lastKey(len(rs), func() string { return rs[len(rs)-1].Name }), len(rs), err
	}); err != nil {
		return nil, err
	}
	since := s.now().Add(-attachmentWindow)
	for i := range out {
		if err := s.attachments(ctx, &out[i], since); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) attachments(ctx context.Context, d *DeviceResource, since time.Time) error {
	var es []store.AuditEvent
	if err := s.recentAudit(ctx, store.AuditFilter{Resource: d.Resource.Name}, since, attachmentScan, func(e store.AuditEvent) { es = append(es, e) }); err != nil {
		return err
	}
	type key struct{ subject, device, gateway string }
	open := map[key][]Attachment{}
	// The log answers newest first; replay it oldest first.
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		var det eventDetail
		decodeDetail(e.Detail, &det)
		k := key{e.Actor, det.Device, e.Gateway}
		switch e.Action {
		case "decision":
			d.LastUse = e.Time
			if e.Effect == "allow" {
				open[k] = append(open[k], Attachment{Subject: e.Actor, Device: det.Device, Gateway: e.Gateway, Since: e.Time, Detail: det.Message})
			}
		case "flow":
			d.LastUse = e.Time
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
	return nil
}

// recentAudit calls fn for the entries matching f, newest first, until
// it passes since or has read limit entries (rounded up to a page). It
// walks the log in arrival order and stops at the first page that
// reaches past since, rather than filtering by time, which would make
// the store look through the whole log for late arrivals; an event
// spooled by a gateway for longer than the window may be missed.
func (s *Server) recentAudit(ctx context.Context, f store.AuditFilter, since time.Time, limit int, fn func(store.AuditEvent)) error {
	f.Limit = min(limit, 1000)
	for read := 0; read < limit; {
		es, err := s.st.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		past := false
		for _, e := range es {
			if e.Time.Before(since) {
				past = true
				continue
			}
			fn(e)
		}
		read += len(es)
		if past || len(es) < f.Limit {
			return nil
		}
		f.Before = es[len(es)-1].Seq
	}
	return nil
}

func (s *Server) apiAttachments(w http.ResponseWriter, r *http.Request, _ *principal) {
	ds, err := s.deviceResources(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	if ds == nil {
		ds = []DeviceResource{}
	}
	writeJSON(w, http.StatusOK, page[DeviceResource]{Items: ds})
}

// decodeDetail reads an audit entry's detail; entries the console wrote
// itself have other shapes and leave d empty.
func decodeDetail(raw json.RawMessage, d *eventDetail) {
	if len(raw) > 0 {
		json.Unmarshal(raw, d)
	}
}
