package analytics

import (
	"strings"
	"sync"
)

// device is the per-device baseline: who uses it and from where.
type device struct {
	name        string
	first, last uint32
	subjects    [4]slot
	countries   [4]slot
}

type deviceShard struct {
	mu sync.Mutex
	m  map[string]*device // guarded by mu
	_  [40]byte
}

// observeDevice records an allowed event on its device. It returns how many
// other subjects the device's baseline held before, and whether the device
// was known at all.
func (e *Engine) observeDevice(ev *Event, ks *keys, t uint32) (others int, existed bool) {
	sh := &e.devices[ks.device&(numShards-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	d := sh.m[ev.Device]
	if d == nil {
		if len(sh.m) >= max(1, e.cfg.maxDevices/numShards) {
			evictOldest(sh.m, func(d *device) uint32 { return d.last })
		}
		d = &device{name: strings.Clone(ev.Device), first: t}
		sh.m[d.name] = d
	} else {
		existed = true
	}
	k := ks.subject
	for i := range d.subjects {
		if d.subjects[i].key != 0 && d.subjects[i].key != k && d.subjects[i].count > 0 {
			others++
		}
	}
	touch(d.subjects[:], k, t, true)
	if ev.Country != "" {
		touch(d.countries[:], ks.country, t, true)
	}
	d.last = max(d.last, t)
	return others, existed
}
