package server

import (
	"net/http"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
	"github.com/gonaut/gonaut/ztna/controlplane"
)

// A gateway is trusted to report what it enforced, and no more: every
// event it posts to /cp/v1/events is checked and stamped by the domain
// (domain/gatewayevents.go says how) before it reaches the audit log,
// the alerts and the live streams. This file decodes the batch, hands it
// over and tells the live streams what was stored.

// SettingClockSkew is how far a gateway event's time may be from the
// console's clock (a Go duration; default 5m).
const SettingClockSkew = domain.SettingClockSkew

// gatewayEvent is a gateway event as the live streams carry it: the
// event as stored, with the gateway it came from.
type gatewayEvent struct {
	controlplane.Event
	// Gateway is the ID of the gateway whose credential posted it.
	Gateway string `json:"gateway"`
	// ClockSkew is set when the gateway's time was outside the window;
	// Time is then when the console received it and ReportedTime the
	// gateway's own.
	ClockSkew    bool      `json:"clock_skew,omitempty"`
	ReportedTime time.Time `json:"reported_time,omitzero"`
}

// eventDetail is the detail of a gateway's audit entry.
type eventDetail = domain.EventDetail

func (s *Server) cpEventRoutes() []route {
	return []route{
		{method: "POST", path: "/cp/v1/events", perm: permGateway, h: s.cpEvents},
	}
}

// cpEvents stores a batch of gateway events in the audit log, each once,
// refusing those that fail the checks one by one. The answer is sent
// only after the batch committed: an acknowledged event is durable.
func (s *Server) cpEvents(w http.ResponseWriter, r *http.Request, p *principal) {
	var b controlplane.EventBatch
	if !decode(w, r, &b) {
		return
	}
	if len(b.Events) > controlplane.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "at most %d events per batch", controlplane.MaxBatch)
		return
	}
	known, _ := s.hub.current(p.tenant)
	ack, lives, err := p.dom.GatewayEvents(r.Context(), *p.gateway, b.Events, known)
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	decisions := 0
	for _, l := range lives {
		s.hub.publish(s.hub.event(p.tenant, l.Kind, gatewayEvent{Event: l.Event, Gateway: l.Gateway, ClockSkew: l.ClockSkew, ReportedTime: l.ReportedTime}))
		if l.Kind == controlplane.KindDecision {
			decisions++
		}
	}
	if decisions > 0 {
		s.hub.publish(s.hub.event(p.tenant, "summary", map[string]int{"decisions": decisions}))
	}
	writeJSON(w, http.StatusOK, ack)
}
