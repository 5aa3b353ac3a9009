package analytics

import (
	"bufio"

	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"net/netip"
	"slices"
)

// Snapshot format, version 2. All integers are little-endian.
//
//	header   "GNAUTAN\x00" (8 bytes), version uint16, reserved uint16 (0)
//	records  any number of: tag uint8 (1 subject, 2 device, 3 source),
//	         length uvarint (at most 64 KiB), payload of that length
//	trailer  tag 0xFF, record count uint64, CRC-32C (Castagnoli) uint32 of
//	         every byte before the CRC
//
// A payload is the fixed sequence of fields of its record type (see
// encodeSubject, encodeDevice, encodeSource); strings are a uvarint length
// and bytes, slot tables a uint8 count and that many (key uint64, last
// uint32, count uint32). Restore checks every length, count, range and the
// checksum before it replaces anything.
//
// Version 2 replaced the subject's one-minute rate state (bucket uint32,
// count uint32, ewma, peak float32, peak stamp uint32) by a window count
// uint8 (3) and, per rate window, bucket, current and previous counts
// (uint32), highest sliding counts of both (float32), ewma, peak (float32)
// and peak stamp (uint32). Restore still reads version 1: its one-minute
// state becomes the first window's, and the longer windows start empty.
const (
	snapshotMagic      = "GNAUTAN\x00"
	snapshotVersion    = 2
	snapshotOldestRead = 1

	tagSubject = 1
	tagDevice  = 2
	tagSource  = 3
	tagEnd     = 0xFF

	maxRecordLen = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot writes the engine's baselines, signals and detector state to w.
// Entries are written in a canonical order, so that equal states give equal
// snapshots.
// Each shard is copied under its lock, so the snapshot is consistent per
// subject (and per device and source) while Observe keeps running; events
// observed during Snapshot may or may not be included.
func (e *Engine) Snapshot(w io.Writer) error {
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w, crc)
	var b wbuf
	b.raw([]byte(snapshotMagic))
	b.u16(snapshotVersion)
	b.u16(0)
	var count uint64
	var rec wbuf
	flush := func() error {
		if _, err := out.Write(b); err != nil {
			return fmt.Errorf("analytics: write snapshot: %w", err)
		}
		b = b[:0]
		return nil
	}
	record := func(tag byte) {
		b.u8(tag)
		b = binary.AppendUvarint(b, uint64(len(rec)))
		b.raw(rec)
		rec = rec[:0]
		count++
	}
	for i := range e.subjects {
		sh := &e.subjects[i]
		sh.mu.Lock()
		for _, k := range slices.Sorted(maps.Keys(sh.m)) {
			encodeSubject(&rec, sh.m[k])
			record(tagSubject)
		}
		sh.mu.Unlock()
		if err := flush(); err != nil {
			return err
		}
	}
	for i := range e.devices {
		sh := &e.devices[i]
		sh.mu.Lock()
		for _, k := range slices.Sorted(maps.Keys(sh.m)) {
			encodeDevice(&rec, sh.m[k])
			record(tagDevice)
		}
		sh.mu.Unlock()
		if err := flush(); err != nil {
			return err
		}
	}
	for i := range e.sources {
		sh := &e.sources[i]
		sh.mu.Lock()
		for _, k := range slices.SortedFunc(maps.Keys(sh.m), netip.Addr.Compare) {
			encodeSource(&rec, sh.m[k])
			record(tagSource)
		}
		sh.mu.Unlock()
		if err := flush(); err != nil {
			return err
		}
	}
	b.u8(tagEnd)
	b.u64(count)
	if err := flush(); err != nil {
		return err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("analytics: write snapshot: %w", err)
	}
	return nil
}

// Restore replaces the engine's state with a snapshot read from r. It reads
// and checks the whole snapshot first; on any error (wrapping ErrSnapshot,
// or ErrSnapshotVersion for a format this build does not read) the current
// state is left exactly as it was. Restore reads up to the end of the
// snapshot and no further than its bufio buffer. Events observed while
// Restore swaps the state in may be lost.
func (e *Engine) Restore(r io.Reader) error {
	crc := crc32.New(castagnoli)
	br := bufio.NewReader(r)
	in := io.TeeReader(br, crc)
	var hdr [12]byte
	if _, err := io.ReadFull(in, hdr[:]); err != nil {
		return fmt.Errorf("%w: header: %v", ErrSnapshot, readErr(err))
	}
	if string(hdr[:8]) != snapshotMagic {
		return fmt.Errorf("%w: not an analytics snapshot", ErrSnapshot)
	}
	version := binary.LittleEndian.Uint16(hdr[8:])
	if version < snapshotOldestRead || version > snapshotVersion {
		return snapshotVersionError{version}
	}
	var (
		subjects [numShards]map[string]*subject
		devices  [numShards]map[string]*device
		sources  [numShards]map[netip.Addr]*source
		nSubj    int
		nDev     int
		nSrc     int
		count    uint64
		payload  []byte
	)
	for i := range subjects {
		subjects[i] = make(map[string]*subject)
		devices[i] = make(map[string]*device)
		sources[i] = make(map[netip.Addr]*source)
	}
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(in, one); err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrSnapshot, count+1, readErr(err))
		}
		tag := one[0]
		if tag == tagEnd {
			break
		}
		n, err := binary.ReadUvarint(byteReader{in, one})
		if err != nil {
			return fmt.Errorf("%w: record %d length: %v", ErrSnapshot, count+1, readErr(err))
		}
		if n > maxRecordLen {
			return fmt.Errorf("%w: record %d is %d bytes, more than %d", ErrSnapshot, count+1, n, maxRecordLen)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(in, payload); err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrSnapshot, count+1, readErr(err))
		}
		count++
		rb := rbuf{b: payload}
		switch tag {
		case tagSubject:
			s := decodeSubject(&rb, version)
			if rb.err == nil {
				m := subjects[shardOf(s.name)]
				if _, dup := m[s.name]; dup {
					rb.fail("duplicate subject")
				}
				m[s.name] = s
				nSubj++
			}
		case tagDevice:
			d := decodeDevice(&rb)
			if rb.err == nil {
				m := devices[shardOf(d.name)]
				if _, dup := m[d.name]; dup {
					rb.fail("duplicate device")
				}
				m[d.name] = d
				nDev++
			}
		case tagSource:
			s := decodeSource(&rb)
			if rb.err == nil {
				m := sources[sourceShardOf(s.addr)]
				if _, dup := m[s.addr]; dup {
					rb.fail("duplicate source")
				}
				m[s.addr] = s
				nSrc++
			}
		default:
			rb.fail(fmt.Sprintf("unknown record tag %d", tag))
		}
		if rb.err == nil && len(rb.b) != 0 {
			rb.fail(fmt.Sprintf("%d trailing bytes", len(rb.b)))
		}
		if rb.err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrSnapshot, count, rb.err)
		}
		if nSubj > e.cfg.maxSubjects || nDev > e.cfg.maxDevices || nSrc > e.cfg.maxSources {
			return fmt.Errorf("%w: more entries than the engine's limits allow", ErrSnapshot)
		}
	}
	var tail [8]byte
	if _, err := io.ReadFull(in, tail[:]); err != nil {
		return fmt.Errorf("%w: trailer: %v", ErrSnapshot, readErr(err))
	}
	if got := binary.LittleEndian.Uint64(tail[:]); got != count {
		return fmt.Errorf("%w: trailer counts %d records, read %d", ErrSnapshot, got, count)
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return fmt.Errorf("%w: checksum: %v", ErrSnapshot, readErr(err))
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return fmt.Errorf("%w: checksum mismatch (stored %08x, computed %08x)", ErrSnapshot, got, want)
	}

	for i := range e.subjects {
		sh := &e.subjects[i]
		sh.mu.Lock()
		sh.m = subjects[i]
		sh.mu.Unlock()
	}
	for i := range e.devices {
		sh := &e.devices[i]
		sh.mu.Lock()
		sh.m = devices[i]
		sh.mu.Unlock()
	}
	for i := range e.sources {
		sh := &e.sources[i]
		sh.mu.Lock()
		sh.m = sources[i]
		sh.mu.Unlock()
	}
	return nil
}

func readErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

type byteReader struct {
	r   io.Reader
	one []byte
}

func (b byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.one); err != nil {
		return 0, err
	}
	return b.one[0], nil
}

func encodeSubject(b *wbuf, s *subject) {
	b.str(s.name)
	b.u32(s.first)
	b.u32(s.last)
	b.u32(s.newest)
	b.u32(s.events)
	b.u32(s.learnedAt)
	for _, h := range s.hours {
		b.u16(h)
	}
	b.slots(s.devices[:])
	b.slots(s.countries[:])
	b.slots(s.asns[:])
	b.slots(s.networks[:])
	b.slots(s.resources[:])
	b.u8(numRateWindows)
	for i := range s.rate {
		w := &s.rate[i]
		b.u32(w.bucket)
		b.u32(w.cur)
		b.u32(w.prev)
		b.f32(w.hi)
		b.f32(w.prevHi)
		b.ewma(w.base)
		b.f32(w.peak)
		b.u32(w.peakAt)
	}
	b.ewma(s.flowBytes)
	b.f32(s.denyLevel)
	b.u32(s.denyAt)
	b.bool(s.loc.ok)
	b.f32(s.loc.lat)
	b.f32(s.loc.lon)
	b.f32(s.loc.acc)
	b.u32(s.loc.at)
	b.u8(byte(numDetectors - 1))
	for d := 1; d < numDetectors; d++ {
		b.f32(s.signal[d])
		b.u32(s.signalAt[d])
		b.u32(s.fired[d])
	}
	for _, r := range s.recent {
		b.u64(r)
	}
	b.u8(s.recentN)
}

func decodeSubject(b *rbuf, version uint16) *subject {
	s := &subject{}
	s.name = b.str()
	s.first = b.u32()
	s.last = b.u32()
	s.newest = b.u32()
	s.events = b.u32()
	s.learnedAt = b.u32()
	for i := range s.hours {
		s.hours[i] = b.u16()
	}
	s.recountHours()
	b.slots(s.devices[:])
	b.slots(s.countries[:])
	b.slots(s.asns[:])
	b.slots(s.networks[:])
	b.slots(s.resources[:])
	if version == 1 {
		// One window, of a minute, whose peak was the busiest closed minute.
		w := &s.rate[0]
		w.bucket = b.u32()
		w.cur = b.u32()
		w.base = b.ewma()
		w.peak = b.f32pos()
		w.peakAt = b.u32()
		w.hi = float32(w.cur)
	} else {
		if n := int(b.u8()); n != numRateWindows && b.err == nil {
			b.fail(fmt.Sprintf("%d rate windows, want %d", n, numRateWindows))
		}
		for i := range s.rate {
			w := &s.rate[i]
			w.bucket = b.u32()
			w.cur = b.u32()
			w.prev = b.u32()
			w.hi = b.f32pos()
			w.prevHi = b.f32pos()
			w.base = b.ewma()
			w.peak = b.f32pos()
			w.peakAt = b.u32()
		}
	}
	for i := range s.rate {
		// A bucket past MaxTime would never be reached again, and the
		// window would stop learning.
		if uint64(s.rate[i].bucket)*uint64(rateWindowSecs[i]) > uint64(stamp(MaxTime)) && b.err == nil {
			b.fail(fmt.Sprintf("%s rate window beyond the last valid time", rateWindowNames[i]))
		}
	}
	s.flowBytes = b.ewma()
	s.denyLevel = b.f32pos()
	s.denyAt = b.u32()
	s.loc.ok = b.bool()
	s.loc.lat = b.f32()
	s.loc.lon = b.f32()
	s.loc.acc = b.f32pos()
	s.loc.at = b.u32()
	if s.loc.ok && !validLocation(float64(s.loc.lat), float64(s.loc.lon)) {
		b.fail("invalid last location")
	}
	if n := int(b.u8()); n != numDetectors-1 && b.err == nil {
		b.fail(fmt.Sprintf("%d detectors, want %d", n, numDetectors-1))
	}
	for d := 1; d < numDetectors; d++ {
		s.signal[d] = b.f32pos()
		if s.signal[d] > signalMaxValue {
			b.fail("signal out of range")
		}
		s.signalAt[d] = b.u32()
		s.fired[d] = b.u32()
	}
	for i := range s.recent {
		s.recent[i] = b.u64()
	}
	s.recentN = b.u8()
	if b.err == nil && (s.name == "" || len(s.name) > MaxFieldLen) {
		b.fail("subject name empty or too long")
	}
	return s
}

func encodeDevice(b *wbuf, d *device) {
	b.str(d.name)
	b.u32(d.first)
	b.u32(d.last)
	b.slots(d.subjects[:])
	b.slots(d.countries[:])
}

func decodeDevice(b *rbuf) *device {
	d := &device{}
	d.name = b.str()
	d.first = b.u32()
	d.last = b.u32()
	b.slots(d.subjects[:])
	b.slots(d.countries[:])
	if b.err == nil && (d.name == "" || len(d.name) > MaxFieldLen) {
		b.fail("device name empty or too long")
	}
	return d
}

func encodeSource(b *wbuf, s *source) {
	a := s.addr.AsSlice()
	b.u8(byte(len(a)))
	b.raw(a)
	b.slots(s.subjects[:])
	b.u32(s.last)
	b.u32(s.fired)
	b.f32(s.signal)
	b.u32(s.signalAt)
}

func decodeSource(b *rbuf) *source {
	s := &source{}
	n := int(b.u8())
	if n != 4 && n != 16 {
		b.fail("bad address length")
		return s
	}
	a, ok := netip.AddrFromSlice(b.take(n))
	if !ok && b.err == nil {
		b.fail("bad address")
	}
	s.addr = a.Unmap()
	b.slots(s.subjects[:])
	s.last = b.u32()
	s.fired = b.u32()
	s.signal = b.f32pos()
	if s.signal > signalMaxValue {
		b.fail("signal out of range")
	}
	s.signalAt = b.u32()
	return s
}

// wbuf appends little-endian values.
type wbuf []byte

func (b *wbuf) raw(p []byte)  { *b = append(*b, p...) }
func (b *wbuf) u8(v byte)     { *b = append(*b, v) }
func (b *wbuf) u16(v uint16)  { *b = binary.LittleEndian.AppendUint16(*b, v) }
func (b *wbuf) u32(v uint32)  { *b = binary.LittleEndian.AppendUint32(*b, v) }
func (b *wbuf) u64(v uint64)  { *b = binary.LittleEndian.AppendUint64(*b, v) }
func (b *wbuf) f32(v float32) { b.u32(math.Float32bits(v)) }
func (b *wbuf) bool(v bool) {
	if v {
		b.u8(1)
	} else {
		b.u8(0)
	}
}
func (b *wbuf) str(s string) {
	*b = binary.AppendUvarint(*b, uint64(len(s)))
	*b = append(*b, s...)
}
func (b *wbuf) ewma(e ewma) {
	b.f32(e.mean)
	b.f32(e.vari)
	b.u32(e.n)
}
func (b *wbuf) slots(t []slot) {
	n := 0
	for i := range t {
		if t[i].key != 0 {
			n++
		}
	}
	b.u8(byte(n))
	for i := range t {
		if t[i].key != 0 {
			b.u64(t[i].key)
			b.u32(t[i].last)
			b.u32(t[i].count)
		}
	}
}

// rbuf reads little-endian values; the first error sticks and later reads
// return zeros.
type rbuf struct {
	b   []byte
	err error
}

func (b *rbuf) fail(msg string) {
	if b.err == nil {
		b.err = fmt.Errorf("%s", msg)
	}
}

func (b *rbuf) take(n int) []byte {
	if b.err != nil {
		return nil
	}
	if n < 0 || len(b.b) < n {
		b.fail("truncated")
		return nil
	}
	p := b.b[:n]
	b.b = b.b[n:]
	return p
}

func (b *rbuf) u8() byte {
	if p := b.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (b *rbuf) u16() uint16 {
	if p := b.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (b *rbuf) u32() uint32 {
	if p := b.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (b *rbuf) u64() uint64 {
	if p := b.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (b *rbuf) f32() float32 {
	v := math.Float32frombits(b.u32())
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		b.fail("non-finite number")
		return 0
	}
	return v
}

// f32pos reads a finite, non-negative float.
func (b *rbuf) f32pos() float32 {
	v := b.f32()
	if v < 0 {
		b.fail("negative number")
		return 0
	}
	return v
}

func (b *rbuf) bool() bool {
	switch b.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	b.fail("bad boolean")
	return false
}

func (b *rbuf) str() string {
	if b.err != nil {
		return ""
	}
	n, k := binary.Uvarint(b.b)
	if k <= 0 || n > MaxFieldLen {
		b.fail("bad string length")
		return ""
	}
	b.b = b.b[k:]
	return string(b.take(int(n)))
}

func (b *rbuf) ewma() ewma {
	return ewma{mean: b.f32(), vari: b.f32pos(), n: b.u32()}
}

func (b *rbuf) slots(t []slot) {
	n := int(b.u8())
	if n > len(t) {
		b.fail(fmt.Sprintf("%d slots in a table of %d", n, len(t)))
		return
	}
	for i := 0; i < n; i++ {
		s := slot{key: b.u64(), last: b.u32(), count: b.u32()}
		if s.key == 0 && b.err == nil {
			b.fail("empty slot key")
		}
		if lookup(t[:i], s.key) >= 0 && b.err == nil {
			b.fail("duplicate slot key")
		}
		t[i] = s
	}
}
