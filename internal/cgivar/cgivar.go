// Package cgivar maps HTTP header names to the CGI/1.1 variables that carry
// them (RFC 3875 4.1.18: User-Agent is HTTP_USER_AGENT) and back, so that
// the engine, the emulation and the runtime name headers alike.
//
// Only ASCII letters change case: header names are tokens, and a byte
// outside ASCII is kept as it came rather than read as UTF-8.
package cgivar

import "strings"

// prefix begins the CGI variable of every request header.
const prefix = "HTTP_"

// FromHeader returns the CGI variable of the header key: HTTP_ then the
// key upper-cased with '-' as '_'; Accept-Language gives
// HTTP_ACCEPT_LANGUAGE.
func FromHeader(key string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(key))
	b.WriteString(prefix)
	for i := range len(key) {
		b.WriteByte(cgiByte(key[i]))
	}
	return b.String()
}

// AppendFromHeader appends the CGI variable of the header key to b, for
// callers that map names read from the wire into a buffer of their own.
func AppendFromHeader(b, key []byte) []byte {
	b = append(b, prefix...)
	for _, c := range key {
		b = append(b, cgiByte(c))
	}
	return b
}

func cgiByte(c byte) byte {
	switch {
	case 'a' <= c && c <= 'z':
		return c - 'a' + 'A'
	case c == '-':
		return '_'
	}
	return c
}

// ToHeader returns the header key of the CGI variable name in canonical
// form (HTTP_ACCEPT_LANGUAGE gives Accept-Language), and false when name
// carries no header: it lacks the HTTP_ prefix or has nothing after it.
// Common headers come from a table, without allocating.
func ToHeader(name string) (key string, ok bool) {
	if len(name) <= len(prefix) || !strings.HasPrefix(name, prefix) {
		return "", false
	}
	if key, ok := commonHeaders[name]; ok {
		return key, true
	}
	b := []byte(name[len(prefix):])
	upper := true
	for i, c := range b {
		switch {
		case c == '_':
			b[i] = '-'
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = false
	}
	return string(b), true
}

// commonHeaders holds the CGI variables of the headers browsers and
// proxies send on most requests, with their keys.
var commonHeaders = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Dnt", "Host",
		"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Origin", "Pragma", "Priority", "Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile",
		"Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Fetch-User", "Te", "Upgrade-Insecure-Requests", "User-Agent", "Via",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Requested-With",
	} {
		m[FromHeader(k)] = k
	}
	return m
}()
