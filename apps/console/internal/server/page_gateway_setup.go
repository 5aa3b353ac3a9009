package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// gatewaySetup is the shell a person runs on a new gateway host, printed
// once by the "Add gateway" page: it keeps the one-time token in a file
// only its owner can read (gateway run takes --token-file, never the
// token on its command line, where other local users would see it), makes
// the gateway's WireGuard key, writes a minimal gateway.yaml and runs the
// gateway against this console. The gateway takes .1 of the tunnel pool,
// which the console never hands to a device.
func gatewaySetup(consoleURL, name, token string, pool netip.Prefix) string {
	addr := netip.PrefixFrom(pool.Addr().Next(), pool.Bits())
	var b strings.Builder
	b.WriteString("# On the gateway host, in an empty directory:\n")
	b.WriteString("umask 077\n")
	b.WriteString("printf '%s\\n' " + shellQuote(token) + " > gateway.token\n")
	b.WriteString("gateway keygen --out gateway.key\n")
	b.WriteString("cat > gateway.yaml <<'EOF'\n")
	b.WriteString("# Devices, users, policies and tcp/http resources come from the console.\n")
	b.WriteString("listen_port: 51820\n")
	b.WriteString("private_key_file: gateway.key\n")
	b.WriteString("address: " + addr.String() + "\n")
	b.WriteString("EOF\n")
	b.WriteString("gateway run --config gateway.yaml --console " + shellQuote(consoleURL) + " --token-file gateway.token --name " + shellQuote(name) + "\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell: in single quotes, with each
// single quote closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// consoleURL is this console's address as the request reached it: https
// when it serves TLS or sits behind a TLS proxy (SecureCookies).
func (s *Server) consoleURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || s.opts.SecureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
