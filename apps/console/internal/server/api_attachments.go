package server

import (
	"net/http"
	"time"
)

// Who is attached to a USB device or serial port is derived in the
// domain (domain.DeviceResources) from the events gateways report; the
// page marks attachments of a gateway that stopped reporting with its
// last heartbeat.

// Attachment is one user attached to a USB device or serial port (see
// domain.Attachment).
type Attachment struct {
	Subject string    `json:"subject"`
	Device  string    `json:"device,omitempty"`
	Gateway string    `json:"gateway"`
	Since   time.Time `json:"since"`
	Detail  string    `json:"detail,omitempty"`
}

// DeviceResource is a usb or serial resource with who is attached now.
type DeviceResource struct {
	Resource    Resource     `json:"resource"`
	Attachments []Attachment `json:"attachments"`
	// LastUse is the last decision or flow seen for the resource.
	LastUse time.Time `json:"last_use,omitzero"`
}

func (s *Server) apiAttachmentRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/attachments", perm: permRead, h: s.apiAttachments},
	}
}

func (s *Server) apiAttachments(w http.ResponseWriter, r *http.Request, p *principal) {
	ds, err := p.dom.DeviceResources(r.Context(), p.domainActor())
	if err != nil {
		s.writeProblem(w, err)
		return
	}
	out := make([]DeviceResource, len(ds))
	for i, d := range ds {
		out[i] = DeviceResource{Resource: resourceJSON(&d.Resource), Attachments: make([]Attachment, len(d.Attachments)), LastUse: d.LastUse}
		for j, a := range d.Attachments {
			out[i].Attachments[j] = Attachment{Subject: a.Subject, Device: a.Device, Gateway: a.Gateway, Since: a.Since, Detail: a.Detail}
		}
	}
	writeJSON(w, http.StatusOK, page[DeviceResource]{Items: out})
}
