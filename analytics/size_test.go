package analytics

import (
	"testing"
	"unsafe"
)

// TestRecordSizes pins the per-subject record well under the 4 KiB budget;
// BenchmarkMemoryPerSubject measures the whole cost including the map.
func TestRecordSizes(t *testing.T) {
	if n := unsafe.Sizeof(subject{}); n > 2048 {
		t.Fatalf("subject record is %d bytes, budget 2048", n)
	}
	if n := unsafe.Sizeof(source{}); n > 640 {
		t.Fatalf("source record is %d bytes, budget 640", n)
	}
	t.Logf("subject %d B, device %d B, source %d B", unsafe.Sizeof(subject{}), unsafe.Sizeof(device{}), unsafe.Sizeof(source{}))
}

func TestHourOfWeek(t *testing.T) {
	// 2000-01-01 00:00 UTC was a Saturday: hour 5*24 of a Monday-based week.
	if got := hourOfWeek(0); got != 120 {
		t.Fatalf("hourOfWeek(epoch) = %d, want 120", got)
	}
	if got := hourOfWeek(2 * 24 * 3600); got != 0 { // Monday 2000-01-03
		t.Fatalf("Monday = %d, want 0", got)
	}
}

func TestTouchEvictsUnknownFirst(t *testing.T) {
	var tab [4]slot
	touch(tab[:], 1, 10, true)
	touch(tab[:], 2, 11, true)
	touch(tab[:], 3, 12, false) // seen only in a denial
	touch(tab[:], 4, 13, true)
	touch(tab[:], 5, 14, true) // evicts 3, the only one not in the baseline
	if lookup(tab[:], 3) >= 0 || lookup(tab[:], 1) < 0 {
		t.Fatalf("table %v", tab)
	}
	touch(tab[:], 6, 15, true) // now evicts 1, the least recently used
	if lookup(tab[:], 1) >= 0 || !known(tab[:], 6, 15, 100) {
		t.Fatalf("table %v", tab)
	}
	if known(tab[:], 2, 200, 100) {
		t.Fatal("entry older than forget still known")
	}
}
