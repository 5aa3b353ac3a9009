package domain

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/store"
)

// Summary is the dashboard's numbers over the last 30 minutes.
type Summary struct {
	Since        time.Time
	Decisions    int
	Allowed      int
	Denied       int
	PerMinute    []MinuteCount // one per minute from Since, oldest first
	TopResources []ResourceCount
	Bytes        int64 // carried by the flows that closed
	Gateways     int   // not revoked
	Healthy      int   // of those, seen within the last minute
	OpenAlerts   int
}

// MinuteCount is one minute of decisions.
type MinuteCount struct {
	Minute  time.Time
	Allowed int
	Denied  int
}

// ResourceCount is how often one resource was decided on.
type ResourceCount struct {
	Resource string
	Count    int
}

// summaryCache holds the last summary for summaryTTL: opening the
// dashboard and every viewer's live update ask for it, and on a busy log
// it reads up to 20,000 entries. Concurrent requests wait for one
// reading rather than each making its own.
type summaryCache struct {
	mu     sync.Mutex
	at     time.Time // when read, on this process's clock
	minute time.Time // the minute it was read for, on the console's clock
	sum    *Summary
}

const summaryTTL = time.Second

// Summary returns the dashboard's numbers, at most a second old.
func (s *Service) Summary(ctx context.Context, _ Actor) (Summary, error) {
	c := &s.sum
	c.mu.Lock()
	defer c.mu.Unlock()
	minute := s.now().Truncate(time.Minute)
	if c.sum == nil || time.Since(c.at) >= summaryTTL || !c.minute.Equal(minute) {
		sum, err := s.readSummary(ctx)
		if err != nil {
			return Summary{}, fromStore(err)
		}
		c.sum, c.at, c.minute = sum, time.Now(), minute
	}
	// A copy: callers may not change the shared slices.
	sum := *c.sum
	sum.PerMinute = append([]MinuteCount{}, sum.PerMinute...)
	sum.TopResources = append([]ResourceCount{}, sum.TopResources...)
	return sum, nil
}

// ForgetSummary empties Summary's cache, so that the next call reads
// the log: for measuring a cold dashboard.
func (s *Service) ForgetSummary() {
	s.sum.mu.Lock()
	s.sum.sum = nil
	s.sum.mu.Unlock()
}

// readSummary reads the last 30 minutes of decisions (at most 20,000).
func (s *Service) readSummary(ctx context.Context) (*Summary, error) {
	now := s.now()
	sum := &Summary{Since: now.Add(-30 * time.Minute).Truncate(time.Minute), PerMinute: []MinuteCount{}, TopResources: []ResourceCount{}}
	minutes := map[int64]*MinuteCount{}
	for m := sum.Since; !m.After(now); m = m.Add(time.Minute) {
		sum.PerMinute = append(sum.PerMinute, MinuteCount{Minute: m})
	}
	for i := range sum.PerMinute {
		minutes[sum.PerMinute[i].Minute.Unix()] = &sum.PerMinute[i]
	}
	res := map[string]int{}
	f := store.AuditFilter{Since: sum.Since, Limit: 1000}
	for range 20 {
		es, err := s.st.ListAudit(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			switch e.Action {
			case "decision":
				sum.Decisions++
				mc := minutes[e.Time.Truncate(time.Minute).Unix()]
				if e.Effect == "allow" {
					sum.Allowed++
					if mc != nil {
						mc.Allowed++
					}
				} else {
					sum.Denied++
					if mc != nil {
						mc.Denied++
					}
				}
				res[e.Resource]++
			case "flow":
				var d struct {
					Bytes int64 `json:"bytes"`
				}
				if json.Unmarshal(e.Detail, &d) == nil {
					sum.Bytes += d.Bytes
				}
			}
		}
		if len(es) < f.Limit {
			break
		}
		f.Before = es[len(es)-1].Seq
	}
	for k, v := range res {
		sum.TopResources = append(sum.TopResources, ResourceCount{k, v})
	}
	sort.Slice(sum.TopResources, func(i, j int) bool {
		a, b := sum.TopResources[i], sum.TopResources[j]
		return a.Count > b.Count || a.Count == b.Count && a.Resource < b.Resource
	})
	if len(sum.TopResources) > 8 {
		sum.TopResources = sum.TopResources[:8]
	}
	gs, err := s.st.ListGateways(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.Revoked {
			continue
		}
		sum.Gateways++
		if now.Sub(g.LastSeen) < time.Minute {
			sum.Healthy++
		}
	}
	as, err := s.st.ListAlerts(ctx, "open", store.ListOptions{Limit: 1000})
	if err != nil {
		return nil, err
	}
	sum.OpenAlerts = len(as)
	return sum, nil
}
