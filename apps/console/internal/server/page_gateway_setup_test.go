package server

import (
	"context"
	"html"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonaut/gonaut/apps/console/internal/domain"
)

var preBlock = regexp.MustCompile(`(?s)<pre class="code"[^>]*>(.*?)</pre>`)

// TestAddGatewayCommandsRunAsPrinted adds a gateway on the Gateways page,
// runs the shell the page prints with the real gateway binary against
// this console, and waits for the gateway to register and report. The
// only change to the printed text is listen_port 0, so that the test does
// not need UDP port 51820 to be free.
func TestAddGatewayCommandsRunAsPrinted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds apps/gateway")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build apps/gateway")
	}
	bin := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(bin, "gateway"), "github.com/gonaut/gonaut/apps/gateway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gateway: %v\n%s", err, out)
	}

	e := newEnv(t, nil)
	hs := httptest.NewServer(e.srv)
	defer hs.Close()
	addUser(t, e.st, "ada@example.com", "correct horse battery", domain.RoleAdmin)
	b := newBrowser(t, hs)
	if resp := b.login("ada@example.com", "correct horse battery", ""); resp.StatusCode != 303 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, body := b.post("/gateways", url.Values{"csrf": {b.csrf("/gateways")}, "name": {"edge-1"}})
	m := preBlock.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("add gateway: %d %s", resp.StatusCode, body)
	}
	script := html.UnescapeString(m[1])
	if strings.Contains(script, "--token ") || !strings.Contains(script, "--token-file gateway.token") {
		t.Fatalf("printed commands:\n%s", script)
	}
	script = strings.Replace(script, "listen_port: 51820", "listen_port: 0", 1)

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		<-exited
	}()

	deadline := time.After(90 * time.Second)
	for {
		gs, err := e.st.ListGateways(bg)
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) == 1 && !gs[0].Registered.IsZero() && len(gs[0].Status) > 0 {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the printed commands stopped (%v) before the gateway registered:\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("the gateway did not register:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "gateway.token")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
}

// unquoteShell reads a word made of single-quoted runs and \' escapes, as
// a POSIX shell does; ok is false for anything else.
func unquoteShell(w string) (string, bool) {
	var b strings.Builder
	for len(w) > 0 {
		switch {
		case strings.HasPrefix(w, `\'`):
			b.WriteByte('\'')
			w = w[2:]
		case w[0] == '\'':
			end := strings.IndexByte(w[1:], '\'')
			if end < 0 {
				return "", false
			}
			b.WriteString(w[1 : 1+end])
			w = w[2+end:]
		default:
			return "", false
		}
	}
	return b.String(), true
}

// FuzzShellQuote: whatever a gateway's name or the Host header holds,
// the printed setup script's word is exactly that text to the shell,
// never a command.
func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"edge-1", "x'; rm -rf ~; '", `$(id)`, "`id`", "a\nb", "'", "''", `\'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := shellQuote(s)
		if got, ok := unquoteShell(q); !ok || got != s {
			t.Fatalf("shellQuote(%q) = %s reads back as %q (%v)", s, q, got, ok)
		}
	})
}

// Behind a TLS proxy the request arrives over HTTP, but gateways must be
// told the https address.
func TestConsoleURLBehindTLSProxy(t *testing.T) {
	r := httptest.NewRequest("POST", "http://console.example/gateways", nil)
	plain := &Server{opts: Options{}}
	proxied := &Server{opts: Options{SecureCookies: true}}
	if got := plain.consoleURL(r); got != "http://console.example" {
		t.Errorf("plain console: %s", got)
	}
	if got := proxied.consoleURL(r); got != "https://console.example" {
		t.Errorf("console behind a TLS proxy: %s", got)
	}
}
