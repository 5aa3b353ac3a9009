package ztna

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// errBadPath is the reason of an HTTP request whose path the gateway
// refuses to normalise.
var errBadPath = errors.New("ztna: bad request path")

// normalizePath is the one form of an escaped request path that policy
// decides on and the upstream receives. It decodes percent-encoded
// unreserved characters (RFC 3986 §2.3), upper-cases the remaining
// escapes, collapses runs of slashes and removes dot segments (§5.2.4),
// so that /./admin, //admin, /x/../admin and /%61dmin all become /admin.
// A literal backslash is refused (upstreams disagree on whether it
// separates segments), and so is a byte that has no place unescaped in a
// path (controls, space, ?, #, non-ASCII); any other byte that RFC 3986
// allows only escaped (", <, [, ...) is escaped, so that the path is
// forwarded byte for byte as normalised.
//
// An encoded slash or backslash (%2F, %5C) is refused too unless
// keepSlashes: upstreams disagree on whether it separates segments, so no
// single path could be both decided and forwarded. With keepSlashes it is
// forwarded as sent, is no separator for dot-segment removal, and policy
// sees it still encoded, as it sees %25: the policy form decodes every
// other escape, so that each policy path stands for exactly one forwarded
// path.
//
// It returns the escaped path to forward and the form policy decides on.
func normalizePath(escaped string, keepSlashes bool) (raw, decoded string, err error) {
	if escaped == "" || escaped[0] != '/' {
		escaped = "/" + escaped
	}
	var b strings.Builder
	b.Grow(len(escaped))
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		switch {
		case c == '\\':
			return "", "", fmt.Errorf("%w: backslash", errBadPath)
		case c <= ' ' || c >= 0x7f || c == '?' || c == '#':
			return "", "", fmt.Errorf("%w: unescaped byte %#x", errBadPath, c)
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "", "", fmt.Errorf("%w: malformed escape", errBadPath)
			}
			v := unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			switch {
			case (v == '/' || v == '\\') && !keepSlashes:
				return "", "", fmt.Errorf("%w: encoded slash or backslash", errBadPath)
			case isUnreserved(v):
				b.WriteByte(v)
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex(escaped[i+1]))
				b.WriteByte(upperHex(escaped[i+2]))
			}
			i += 2
		case isPathChar(c):
			b.WriteByte(c)
		default:
			// A byte RFC 3986 allows only escaped (", <, {, |, ...) is
			// escaped here, or the proxy's URL would re-encode the whole
			// path on its own terms when writing the request line.
			b.WriteByte('%')
			b.WriteByte(upperHexDigit[c>>4])
			b.WriteByte(upperHexDigit[c&15])
		}
	}
	raw = removeDotSegments(b.String())
	if keepSlashes {
		return raw, unescapeKeeping(raw), nil
	}
	decoded, err = url.PathUnescape(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", errBadPath, err)
	}
	return raw, decoded, nil
}

// unescapeKeeping decodes the escapes of a normalised path except %25,
// %2F and %5C, which it leaves as they are.
func unescapeKeeping(raw string) string {
	if strings.IndexByte(raw, '%') < 0 {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			b.WriteByte(raw[i])
			continue
		}
		switch v := unhex(raw[i+1])<<4 | unhex(raw[i+2]); v {
		case '%', '/', '\\':
			b.WriteString(raw[i : i+3])
		default:
			b.WriteByte(v)
		}
		i += 2
	}
	return b.String()
}

// removeDotSegments drops empty, "." and ".." segments of an absolute
// path; ".." above the root stays at the root. A trailing slash, or a
// final "." or "..", leaves the result ending in a slash.
func removeDotSegments(p string) string {
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for _, s := range segs {
		trailing = false
		switch s {
		case "", ".":
			trailing = true
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = true
		default:
			out = append(out, s)
		}
	}
	r := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		r += "/"
	}
	return r
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar reports whether c may appear unescaped in a path: RFC 3986's
// pchar without pct-encoded, and the separator.
func isPathChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@/", c) >= 0
}

const upperHexDigit = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
