//go:build linux

package serialfwd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openTestTTYIO opens one end of a pty pair as a ttyIO, outside the count
// of newTTYIO, and the other end as a plain device.
func openTestTTYIO(t *testing.T) (*ttyIO, Device) {
	t.Helper()
	pp := newPtyPair(t)
	fd, err := unix.Open(pp.A, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tio, err := openTTYIO(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	t.Cleanup(func() { tio.Close() })
	far, err := openSerial(pp.B, Mode{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { far.Close() })
	return tio, far
}

func TestTTYIOCarriesBytesInOrderBothWays(t *testing.T) {
	tio, far := openTestTTYIO(t)
	want := make([]byte, 256<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	// Far end to ttyIO.
	go writeFull(far, want)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(tio, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes read through ttyIO differ from those written")
	}
	// ttyIO to far end: larger than the pty's queue, so Write waits for
	// room in poll(2).
	errc := make(chan error, 1)
	go func() {
		n, err := tio.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		errc <- err
	}()
	if _, err := io.ReadFull(far, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes written through ttyIO differ from those read")
	}
}

func TestTTYIOCloseUnblocksReadAndWrite(t *testing.T) {
	tio, _ := openTestTTYIO(t)
	readErr := make(chan error, 1)
	go func() {
		_, err := tio.Read(make([]byte, 16))
		readErr <- err
	}()
	// Nobody reads the far end: this Write fills the pty and waits.
	writeErr := make(chan error, 1)
	go func() {
		_, err := tio.Write(make([]byte, 1<<20))
		writeErr <- err
	}()
	time.Sleep(50 * time.Millisecond) // let both block (the test passes either way)
	if err := tio.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]chan error{"Read": readErr, "Write": writeErr} {
		select {
		case err := <-c:
			if !errors.Is(err, os.ErrClosed) {
				t.Errorf("%s after Close: %v, want os.ErrClosed", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still blocked after Close", name)
		}
	}
	if err := tio.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tio.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestTTYIOLimitLeavesAPFree(t *testing.T) {
	// newTTYIO hands out at most GOMAXPROCS-1; the count returns to where
	// it was when they are closed.
	before := ttyIOInUse.Load()
	var got []*ttyIO
	for range 64 {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK) // any non-blocking descriptor
		if err != nil {
			t.Fatal(err)
		}
		tio := newTTYIO(fd)
		if tio == nil {
			unix.Close(fd)
			break
		}
		got = append(got, tio)
	}
	if n := ttyIOInUse.Load(); int(n) > max(0, runtime.GOMAXPROCS(0)-1) {
		t.Errorf("%d ttyIOs in use, limit %d", n, runtime.GOMAXPROCS(0)-1)
	}
	for _, tio := range got {
		tio.Close()
	}
	if n := ttyIOInUse.Load(); n > before {
		t.Errorf("count after Close %d, want at most %d", n, before)
	}
}
