package sim

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/gonaut/gonaut/usbip"
)

// Endpoints of the simulated mass-storage device.
const (
	StorageInEndpoint  = 0x81 // bulk IN: data-in and CSWs
	StorageOutEndpoint = 0x02 // bulk OUT: CBWs and data-out
)

// BlockSize is the simulated disk's logical block size.
const BlockSize = 512

// Bulk-only transport wrappers (USB Mass Storage Class BOT 1.0 §5).
const (
	cbwSignature = 0x43425355 // "USBC"
	cswSignature = 0x53425355 // "USBS"
	cbwLen       = 31
	cswLen       = 13
)

// SCSI sense keys and the few additional sense codes used.
const (
	senseIllegalRequest = 0x05
	ascInvalidOpcode    = 0x20
	ascLBAOutOfRange    = 0x21
	ascInvalidField     = 0x24
)

type botPhase int

const (
	phaseIdle    botPhase = iota // waiting for a CBW
	phaseDataIn                  // data-in queued for the IN endpoint
	phaseDataOut                 // expecting data-out on the OUT endpoint
	phaseStatus                  // CSW queued for the IN endpoint
)

// Storage is a simulated USB mass-storage device (class 8, SCSI transparent
// command set, bulk-only transport) backed by a RAM disk. It implements
// enough of SCSI for Linux's usb-storage and for throughput tests: INQUIRY,
// TEST UNIT READY, REQUEST SENSE, READ CAPACITY(10), READ FORMAT
// CAPACITIES, MODE SENSE(6/10), READ(10), WRITE(10), VERIFY(10),
// SYNCHRONIZE CACHE, PREVENT ALLOW MEDIUM REMOVAL and START STOP UNIT.
//
// Like a real device it holds off (NAKs) a CBW until the previous command's
// status has been read, so a host may queue many commands' URBs at once.
// It is safe for concurrent use.
type Storage struct {
	*core
	disk []byte

	mu      sync.Mutex // guards the fields below
	changed chan struct{}
	phase   botPhase
	tag     uint32
	want    uint32 // dCBWDataTransferLength
	moved   uint32 // data bytes moved in the data phase
	status  byte   // CSW status of the current command
	in      []byte // data-in not yet sent
	out     []byte // where data-out goes (nil: discard)
	sense   [3]byte
}

var _ usbip.Device = (*Storage)(nil)

// NewStorage returns a mass-storage device with a zeroed RAM disk of size
// bytes (rounded up to whole blocks) and serial number serial.
func NewStorage(serial string, size int) *Storage {
	blocks := max(1, (size+BlockSize-1)/BlockSize)
	cfg := configDescriptor(1,
		interfaceDescriptor(0, 2, 0x08, 0x06, 0x50),
		endpointDescriptor(StorageInEndpoint, usbip.TransferBulk, 512, 0),
		endpointDescriptor(StorageOutEndpoint, usbip.TransferBulk, 512, 0),
	)
	dev := deviceDescriptor(0, 0, 0, vendorPIDCodes, productMSC, 0x0100, 1, 2, 3)
	return &Storage{
		core:    newCore(dev, cfg, "Gonaut", "Simulated Disk", serial),
		disk:    make([]byte, blocks*BlockSize),
		changed: make(chan struct{}),
	}
}

// Blocks returns the disk's size in blocks.
func (m *Storage) Blocks() int { return len(m.disk) / BlockSize }

// Control answers Get Max LUN and Bulk-Only Mass Storage Reset, and the
// standard requests.
func (m *Storage) Control(ctx context.Context, s usbip.Setup, data []byte) (int, error) {
	switch {
	case s.RequestType == 0xa1 && s.Request == 0xfe: // Get Max LUN
		return copy(data, []byte{0}), nil
	case s.RequestType == 0x21 && s.Request == 0xff: // Bulk-Only Mass Storage Reset
		m.mu.Lock()
		m.resetBOTLocked()
		m.mu.Unlock()
		return 0, nil
	}
	return m.standard(ctx, s, data)
}

// notifyLocked wakes transfers waiting for a phase change.
func (m *Storage) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Storage) resetBOTLocked() {
	m.phase, m.in, m.out = phaseIdle, nil, nil
	m.notifyLocked()
}

// Transfer runs the bulk-only transport.
func (m *Storage) Transfer(ctx context.Context, ep uint8, data []byte) (int, error) {
	for {
		if err := m.checkEndpoint(ep); err != nil {
			return 0, err
		}
		m.mu.Lock()
		n, done, err := m.stepLocked(ep, data)
		ch := m.changed
		m.mu.Unlock()
		if done {
			return n, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// stepLocked moves the transport one step for a transfer on ep, or reports
// that the transfer must wait (done false).
func (m *Storage) stepLocked(ep uint8, data []byte) (n int, done bool, err error) {
	switch ep {
	case StorageOutEndpoint:
		switch m.phase {
		case phaseIdle:
			return m.commandLocked(data)
		case phaseDataOut:
			k := min(len(data), int(m.want-m.moved))
			if m.out != nil {
				copy(m.out[min(int(m.moved), len(m.out)):], data[:k])
			}
			m.moved += uint32(k)
			if m.moved == m.want {
				m.phase = phaseStatus
				m.notifyLocked()
			}
			return k, true, nil
		}
	case StorageInEndpoint:
		switch m.phase {
		case phaseDataIn:
			k := copy(data, m.in)
			m.in = m.in[k:]
			m.moved += uint32(k)
			if len(m.in) == 0 {
				m.phase = phaseStatus
				m.notifyLocked()
			}
			return k, true, nil
		case phaseStatus:
			var csw [cswLen]byte
			binary.LittleEndian.PutUint32(csw[0:], cswSignature)
			binary.LittleEndian.PutUint32(csw[4:], m.tag)
			binary.LittleEndian.PutUint32(csw[8:], m.want-m.moved)
			csw[12] = m.status
			m.phase = phaseIdle
			m.notifyLocked()
			return copy(data, csw[:]), true, nil
		}
	default:
		return 0, true, usbip.ErrStall
	}
	return 0, false, nil
}

// commandLocked decodes a CBW and runs its SCSI command.
func (m *Storage) commandLocked(cbw []byte) (int, bool, error) {
	if len(cbw) != cbwLen || binary.LittleEndian.Uint32(cbw) != cbwSignature || cbw[14] == 0 || cbw[14] > 16 {
		// An invalid CBW stalls the pipe (BOT §6.6.1); the host recovers
		// with CLEAR_FEATURE(ENDPOINT_HALT) or a reset.
		return 0, true, usbip.ErrStall
	}
	m.tag = binary.LittleEndian.Uint32(cbw[4:])
	m.want = binary.LittleEndian.Uint32(cbw[8:])
	m.moved, m.status, m.in, m.out = 0, 0, nil, nil
	dirIn := cbw[12]&0x80 != 0
	m.scsiLocked(cbw[15 : 15+cbw[14]])
	switch {
	case m.want == 0:
		m.in, m.out = nil, nil
		m.phase = phaseStatus
	case dirIn:
		if len(m.in) > int(m.want) {
			m.in = m.in[:m.want]
		}
		m.out = nil
		m.phase = phaseDataIn
	default:
		m.in = nil
		m.phase = phaseDataOut
	}
	m.notifyLocked()
	return len(cbw), true, nil
}

// fail sets CHECK CONDITION with the given sense.
func (m *Storage) failLocked(key, asc byte) {
	m.status = 1
	m.sense = [3]byte{key, asc, 0}
	m.in, m.out = nil, nil
}

func (m *Storage) scsiLocked(cb []byte) {
	blocks := uint32(len(m.disk) / BlockSize)
	rw := func() (lba, count uint32, ok bool) {
		if len(cb) < 10 {
			m.failLocked(senseIllegalRequest, ascInvalidField)
			return 0, 0, false
		}
		lba, count = binary.BigEndian.Uint32(cb[2:]), uint32(binary.BigEndian.Uint16(cb[7:]))
		if uint64(lba)+uint64(count) > uint64(blocks) {
			m.failLocked(senseIllegalRequest, ascLBAOutOfRange)
			return 0, 0, false
		}
		return lba, count, true
	}
	switch cb[0] {
	case 0x00, 0x1e, 0x1b, 0x35, 0x2f: // TEST UNIT READY, PREVENT ALLOW, START STOP, SYNC CACHE, VERIFY
	case 0x03: // REQUEST SENSE
		s := make([]byte, 18)
		s[0], s[2], s[7], s[12], s[13] = 0x70, m.sense[0], 10, m.sense[1], m.sense[2]
		m.sense = [3]byte{}
		m.in = s
	case 0x12: // INQUIRY
		if len(cb) > 1 && cb[1]&1 != 0 {
			m.failLocked(senseIllegalRequest, ascInvalidField)
			return
		}
		q := []byte{0x00, 0x80, 0x04, 0x02, 31, 0, 0, 0}
		q = append(q, "Gonaut  Simulated Disk  1.00"...)
		m.in = q
	case 0x1a: // MODE SENSE(6)
		m.in = []byte{3, 0, 0, 0}
	case 0x5a: // MODE SENSE(10)
		m.in = []byte{0, 6, 0, 0, 0, 0, 0, 0}
	case 0x25: // READ CAPACITY(10)
		r := make([]byte, 8)
		binary.BigEndian.PutUint32(r, blocks-1)
		binary.BigEndian.PutUint32(r[4:], BlockSize)
		m.in = r
	case 0x23: // READ FORMAT CAPACITIES
		r := []byte{0, 0, 0, 8, 0, 0, 0, 0, 0x02, 0, BlockSize >> 8, BlockSize & 0xff}
		binary.BigEndian.PutUint32(r[4:], blocks)
		m.in = r
	case 0x28: // READ(10)
		if lba, count, ok := rw(); ok {
			m.in = m.disk[lba*BlockSize : (lba+count)*BlockSize]
		}
	case 0x2a: // WRITE(10)
		if lba, count, ok := rw(); ok {
			m.out = m.disk[lba*BlockSize : (lba+count)*BlockSize]
		}
	default:
		m.failLocked(senseIllegalRequest, ascInvalidOpcode)
	}
}

// Isochronous stalls: the device has no isochronous endpoint.
func (m *Storage) Isochronous(context.Context, uint8, []byte, []usbip.IsoPacket) (int, error) {
	return isoUnsupported()
}

// Reset unconfigures the device and aborts the command in progress; the
// disk keeps its contents.
func (m *Storage) Reset(context.Context) error {
	m.resetCore()
	m.mu.Lock()
	m.resetBOTLocked()
	m.mu.Unlock()
	return nil
}

// Close makes every later transfer fail with ErrNoDevice.
func (m *Storage) Close() error {
	m.closeCore()
	m.mu.Lock()
	m.notifyLocked()
	m.mu.Unlock()
	return nil
}
