package server

import (
	"net/http"

	"github.com/gonaut/gonaut/apps/console/internal/ui"
)

func (s *Server) pageAttachmentRoutes() []route {
	return []route{
		pageRoute("GET", "/attachments", permRead, s.pageAttachments),
	}
}

func (s *Server) pageAttachments(w http.ResponseWriter, r *http.Request, p *principal) {
	ds, err := p.dom.DeviceResources(r.Context(), p.domainActor())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	a := ui.Attachments{Page: s.pageOf(r, p, "USB and serial devices", "attachments")}
	var ids []string
	for _, d := range ds {
		for _, x := range d.Attachments {
			ids = append(ids, x.Subject, x.Device)
		}
	}
	n := p.dom.DisplayNames(r.Context(), p.domainActor(), ids)
	for _, d := range ds {
		v := ui.DeviceView{Name: d.Resource.Name, Kind: d.Resource.Kind, Address: d.Resource.Address, Gateway: d.Resource.Gateway, LastUse: when(d.LastUse)}
		if v.Address == "" {
			v.Address = "—"
		}
		for _, x := range d.Attachments {
			name := x.GatewayName
			if name == "" {
				name = x.Gateway
			}
			v.Attached = append(v.Attached, ui.AttachView{Subject: n.Of(x.Subject), SubjectID: n.Title(x.Subject), Device: n.Of(x.Device), DeviceID: n.Title(x.Device), Gateway: name, Since: when(x.Since), Detail: x.Detail, Stale: x.Stale})
		}
		a.Devices = append(a.Devices, v)
	}
	s.render(w, r, http.StatusOK, ui.AttachmentsPage(a))
}
