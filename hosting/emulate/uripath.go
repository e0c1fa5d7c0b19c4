package emulate

import (
	"net/http"
	"net/url"
	"strings"
)

// requestPath is the URL-path Apache's core maps a request to, from its
// request-target as sent (path and query), or the status Apache refuses
// it with. As ap_normalize_path does, it decodes %-escapes of unreserved
// characters, merges slashes and removes dot segments: /static/../404.html
// is /404.html, and a path that climbs above the root is a 400. It then
// decodes the rest, where AllowEncodedSlashes Off makes %2F a 404, as is
// %00. A '#' has no place in a request-target: 400.
func requestPath(target string) (string, int) {
	raw, _, _ := strings.Cut(target, "?")
	if !strings.HasPrefix(raw, "/") || strings.Contains(raw, "#") {
		return "", http.StatusBadRequest
	}
	if strings.Contains(raw, "%") {
		raw = decodeUnreserved(raw)
	}
	if strings.Contains(raw, "//") || strings.Contains(raw, "/.") {
		var ok bool
		if raw, ok = removeDotSegments(raw); !ok {
			return "", http.StatusBadRequest
		}
	}
	if !strings.Contains(raw, "%") {
		return raw, 0
	}
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(raw, "%00") {
		return "", http.StatusNotFound
	}
	p, err := url.PathUnescape(raw)
	if err != nil {
		return "", http.StatusBadRequest
	}
	return p, 0
}

// decodeUnreserved decodes the %-escapes in p of letters, digits and
// "-._~", which mean the same escaped or not (RFC 3986).
func decodeUnreserved(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if c, ok := unhex(p[i+1], p[i+2]); ok && unreserved(c) {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func unhex(h, l byte) (byte, bool) {
	v := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		case 'A' <= c && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	hi, ok1 := v(h)
	lo, ok2 := v(l)
	return hi<<4 | lo, ok1 && ok2
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments merges the slashes of p and resolves its "." and ".."
// segments; a path that ends with one ends with a slash. It reports false
// for a path that climbs above the root.
func removeDotSegments(p string) (string, bool) {
	var segs []string
	slash := false
	for _, s := range strings.Split(p[1:], "/") {
		slash = false
		switch s {
		case "", ".":
			slash = true
		case "..":
			if len(segs) == 0 {
				return "", false
			}
			segs, slash = segs[:len(segs)-1], true
		default:
			segs = append(segs, s)
		}
	}
	out := "/" + strings.Join(segs, "/")
	if slash && len(segs) > 0 {
		out += "/"
	}
	return out, true
}
