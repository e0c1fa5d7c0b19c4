package responder

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// param is one name-value pair of an FCGI_PARAMS or FCGI_GET_VALUES stream.
type param struct {
	name, value string
}

var (
	errPairTruncated = errors.New("name-value pair runs past the end of the stream")
	errPairTooMany   = errors.New("too many name-value pairs")
)

// pairLength decodes the 1- or 4-byte length at the start of s.
func pairLength(s string) (n, size int, ok bool) {
	if len(s) == 0 {
		return 0, 0, false
	}
	if s[0]>>7 == 0 {
		return int(s[0]), 1, true
	}
	if len(s) < 4 {
		return 0, 0, false
	}
	v := uint32(s[0]&0x7f)<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
	return int(v), 4, true
}

// parsePairs appends the name-value pairs encoded in s to ps. The strings of
// the pairs share s's memory. At most max pairs are accepted.
func parsePairs(ps []param, s string, max int) ([]param, error) {
	for len(s) > 0 {
		nameLen, a, ok := pairLength(s)
		if !ok {
			return ps, errPairTruncated
		}
		valueLen, b, ok := pairLength(s[a:])
		if !ok {
			return ps, errPairTruncated
		}
		s = s[a+b:]
		// Compare against len(s) one length at a time: their sum may overflow.
		if nameLen > len(s) || valueLen > len(s)-nameLen {
			return ps, errPairTruncated
		}
		if len(ps) >= max {
			return ps, errPairTooMany
		}
		ps = append(ps, param{name: s[:nameLen], value: s[nameLen : nameLen+valueLen]})
		s = s[nameLen+valueLen:]
	}
	return ps, nil
}

func appendPairLength(b []byte, n int) []byte {
	if n <= 127 {
		return append(b, byte(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
}

// appendPair encodes one name-value pair.
func appendPair(b []byte, name, value string) []byte {
	b = appendPairLength(b, len(name))
	b = appendPairLength(b, len(value))
	b = append(b, name...)
	return append(b, value...)
}

// lookup returns the value of the last pair named name: the one in force
// when a web server sends a variable twice, as nginx does when a site
// overrides one set by fastcgi_params.
func lookup(ps []param, name string) (string, bool) {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].name == name {
			return ps[i].value, true
		}
	}
	return "", false
}

// appendGetValuesResult answers an FCGI_GET_VALUES query with exactly the
// variables asked for that this server knows.
func appendGetValuesResult(b []byte, query []param, maxConns, maxReqs int) []byte {
	for _, q := range query {
		switch q.name {
		case "FCGI_MAX_CONNS":
			b = appendPair(b, q.name, strconv.Itoa(maxConns))
		case "FCGI_MAX_REQS":
			b = appendPair(b, q.name, strconv.Itoa(maxReqs))
		case "FCGI_MPXS_CONNS":
			b = appendPair(b, q.name, "1")
		}
	}
	return b
}
