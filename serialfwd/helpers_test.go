package serialfwd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// needTool skips the test when a real peer is not installed. CI installs
// all of them (.ci/run).
func needTool(tb testing.TB, path string) {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("%s not installed (CI installs it): %v", path, err)
	}
}

// ptyPair starts socat with a connected pty pair and returns the paths of
// its two stable symlinks. socat is killed at cleanup.
type ptyPair struct {
	A, B string
	cmd  *exec.Cmd
	dir  string
}

func newPtyPair(tb testing.TB) *ptyPair {
	tb.Helper()
	needTool(tb, "/usr/bin/socat")
	dir := tb.TempDir()
	pp := &ptyPair{A: filepath.Join(dir, "ttyA"), B: filepath.Join(dir, "ttyB"), dir: dir}
	pp.start(tb)
	tb.Cleanup(pp.stop)
	return pp
}

func (pp *ptyPair) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command("/usr/bin/socat", "pty,raw,echo=0,link="+pp.A, "pty,raw,echo=0,link="+pp.B)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("socat: %v", err)
	}
	pp.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ea := os.Stat(pp.A)
		_, eb := os.Stat(pp.B)
		if ea == nil && eb == nil {
			return
		}
		if time.Now().After(deadline) {
			pp.stop()
			tb.Fatalf("socat did not create %s and %s", pp.A, pp.B)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop kills socat, which closes both ptys: the device "disappears".
func (pp *ptyPair) stop() {
	if pp.cmd == nil {
		return
	}
	pp.cmd.Process.Kill()
	pp.cmd.Wait()
	pp.cmd = nil
	os.Remove(pp.A)
	os.Remove(pp.B)
}

// listen returns a loopback listener on a free port.
func listen(tb testing.TB) net.Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// freePort returns a TCP port that was free a moment ago, for peers that
// must bind it themselves (ser2net).
func freePort(tb testing.TB) int {
	l := listen(tb)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve starts a Server sharing cfg over a fresh listener and returns its
// address; the server is closed at cleanup.
func serve(tb testing.TB, opts *ServerOptions, cfg PortConfig, proto Protocol) (*Server, string) {
	tb.Helper()
	srv := NewServer(opts)
	if err := srv.AddPort(cfg); err != nil {
		tb.Fatal(err)
	}
	l := listen(tb)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l, cfg.Name, proto)
	}()
	tb.Cleanup(func() {
		srv.Close()
		<-done
	})
	return srv, l.Addr().String()
}

// readFull reads exactly n bytes from r or fails after timeout.
func readFull(tb testing.TB, r io.Reader, n int, timeout time.Duration) []byte {
	tb.Helper()
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		d.SetReadDeadline(time.Now().Add(timeout))
		defer d.SetReadDeadline(time.Time{})
	}
	buf := make([]byte, n)
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(r, buf)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("read %d bytes: %v", n, err)
		}
	case <-time.After(timeout):
		tb.Fatalf("timed out reading %d bytes", n)
	}
	return buf
}

// allBytes returns every byte value, n times over.
func allBytes(n int) []byte {
	b := make([]byte, 0, 256*n)
	for range n {
		for i := range 256 {
			b = append(b, byte(i))
		}
	}
	return b
}

// stty returns `stty -F path -a`.
func stty(tb testing.TB, path string) string {
	tb.Helper()
	out, err := exec.Command("stty", "-F", path, "-a").CombinedOutput()
	if err != nil {
		tb.Fatalf("stty -F %s: %v: %s", path, err, out)
	}
	return string(out)
}

// recordingDevice wraps a Device and records the control calls and their
// results, to check what reached the real device.
type recordingDevice struct {
	Device
	mu    sync.Mutex
	calls []string
}

func (r *recordingDevice) note(format string, args ...any) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recordingDevice) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recordingDevice) SetBreak(on bool) (bool, error) {
	got, err := r.Device.SetBreak(on)
	r.note("break %v -> %v err=%v", on, got, err != nil)
	return got, err
}

func (r *recordingDevice) SetDTR(on bool) (bool, error) {
	got, err := r.Device.SetDTR(on)
	r.note("dtr %v -> %v err=%v", on, got, err != nil)
	return got, err
}

// lineScanner reads lines from a child process with a timeout.
type lineScanner struct {
	lines chan string
}

func newLineScanner(r io.Reader) *lineScanner {
	ls := &lineScanner{lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ls.lines <- sc.Text()
		}
		close(ls.lines)
	}()
	return ls
}

func (ls *lineScanner) expect(tb testing.TB, want string) {
	tb.Helper()
	select {
	case got, ok := <-ls.lines:
		if !ok {
			tb.Fatalf("peer exited, want %q", want)
		}
		if got != want {
			tb.Fatalf("peer said %q, want %q", got, want)
		}
	case <-time.After(20 * time.Second):
		tb.Fatalf("timed out waiting for %q", want)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func ctxTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

var netDialer net.Dialer
