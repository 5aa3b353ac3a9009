package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

// Console replicas over one PostgreSQL database share live events and
// configuration changes through the domain's replica operations
// (domain/replicas.go, LISTEN/NOTIFY underneath):
//
//   - every live event published on one replica is relayed, in batches
//     packed into payloads of at most domain.MaxRelayPayload bytes, to
//     the others, which publish it to their own subscribers;
//   - every transaction that moves the configuration version tells the
//     other replicas, which re-read the version and wake their bundle
//     long-polls.
//
// Live events are best effort, as they are within one replica: a full
// relay queue, an event too large for one notification or a replica
// reconnecting to the database drops events. Configuration changes are
// not lost: the version is re-read after reconnecting and every
// ConfigPoll.

// relayBatch bounds the events relayed in one round trip.
const relayBatch = 2000

// relayMsg is one relayed payload.
type relayMsg struct {
	Origin string      `json:"o"`
	Events []relayItem `json:"e"`
}

// relayItem is one live event. Event marks Data as a gatewayEvent,
// which the dashboard's renderer expects by type; anything else arrives
// as the generic JSON value. Who may see it is not relayed: the receiving
// replica derives it from the type, from its own route table.
type relayItem struct {
	Tenant string          `json:"n,omitempty"` // "": the default tenant
	Type   string          `json:"t"`
	Event  bool            `json:"c,omitempty"`
	Data   json.RawMessage `json:"d"`
}

// relayLive sends the events published here to the other replicas.
func (s *Server) relayLive() {
	defer s.wg.Done()
	for {
		var batch []liveEvent
		select {
		case <-s.stop:
			return
		case e := <-s.hub.relay:
			batch = append(batch, e)
		}
	drain:
		for len(batch) < relayBatch {
			select {
			case e := <-s.hub.relay:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		payloads := packRelay(s.origin, batch)
		ctx, cancel := context.WithTimeout(s.bg, 5*time.Second)
		if err := s.plat.Default().RelayLive(ctx, payloads); err != nil && s.bg.Err() == nil {
			s.log.Warn("console: relaying live events", "events", len(batch), "err", err)
		}
		cancel()
	}
}

// packRelay packs events into payloads, each at most
// domain.MaxRelayPayload bytes; an event too large alone is dropped.
func packRelay(origin string, events []liveEvent) []string {
	var out []string
	head := relayHead(origin)
	cur := []byte(head)
	n := 0
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			continue
		}
		// relayItem, marshalled by hand: data is already JSON and
		// need not be compacted again.
		item := []byte(`{`)
		if e.tenant != domain.DefaultTenant {
			item = append(append(item, `"n":`...), mustJSON(e.tenant)...)
			item = append(item, ',')
		}
		item = append(append(item, `"t":`...), mustJSON(e.Type)...)
		if _, isEvent := e.Data.(gatewayEvent); isEvent {
			item = append(item, `,"c":true`...)
		}
		item = append(append(append(item, `,"d":`...), data...), '}')
		if len(head)+len(item)+2 > domain.MaxRelayPayload {
			continue
		}
		if n > 0 && len(cur)+1+len(item)+2 > domain.MaxRelayPayload {
			out = append(out, string(cur)+"]}")
			cur, n = []byte(head), 0
		}
		if n > 0 {
			cur = append(cur, ',')
		}
		cur = append(cur, item...)
		n++
	}
	if n > 0 {
		out = append(out, string(cur)+"]}")
	}
	return out
}

// relayHead is how every payload from origin begins.
func relayHead(origin string) string {
	return `{"o":` + string(mustJSON(origin)) + `,"e":[`
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// listen receives what the other replicas send, reconnecting after a
// second when the connection fails, until the server closes.
func (s *Server) listen() {
	defer s.wg.Done()
	h := domain.ReplicaHandlers{
		// Once listening, re-read the configuration version: it may
		// have moved while no one was listening.
		Ready: func() {
			s.hub.markAllChanged()
			s.listeningOnce.Do(func() { close(s.listening) })
		},
		Config: s.changed,
		Live:   s.onRelayed,
	}
	for {
		err := s.plat.Default().ListenReplicas(s.bg, h)
		if s.bg.Err() != nil || errors.Is(err, domain.ErrNotReplicated) {
			return
		}
		s.log.Warn("console: listening to other replicas; retrying in 1s", "err", err)
		select {
		case <-s.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// onRelayed publishes here the live events of a payload another
// replica relayed.
func (s *Server) onRelayed(payload string) {
	if strings.HasPrefix(payload, relayHead(s.origin)) {
		return // our own, already published here
	}
	var m relayMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m.Origin == s.origin {
		return
	}
	for _, it := range m.Events {
		var data any
		if it.Event {
			var ev gatewayEvent
			if json.Unmarshal(it.Data, &ev) != nil {
				continue
			}
			data = ev
		} else if json.Unmarshal(it.Data, &data) != nil {
			continue
		}
		tenant := it.Tenant
		if tenant == "" {
			tenant = domain.DefaultTenant
		}
		s.hub.publishLocal(s.hub.event(tenant, it.Type, data))
	}
}
