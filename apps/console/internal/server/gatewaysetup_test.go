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

	"github.com/gonaut/gonaut/apps/console/internal/store"
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
	addUser(t, e.st, "ada@example.com", "correct horse battery", store.RoleAdmin)
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
