package differential_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// compared are the response headers a handler sets and a client acts on.
// The others differ by server for any program behind it and mean nothing
// to the handler: Date, Server, the hop-by-hop ones (Connection,
// Keep-Alive, Transfer-Encoding), and Content-Length, which a server may
// leave out for chunking (the bodies are compared instead).
var compared = []string{
	"Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Origin",
	"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Range", "Content-Type",
	"Etag", "Last-Modified", "Link", "Location", "Set-Cookie", "Www-Authenticate", "X-Custom",
}

// echoedNotCompared are the request headers a web server adds or changes
// for any program behind it, which httpbin echoes: the Host's port,
// the proxies' X-Forwarded-* and Via, the hop-by-hop Connection.
var echoedNotCompared = []string{
	"Host", "Connection", "Keep-Alive", "Te", "Via", "Forwarded",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Server", "X-Real-Ip",
}

// compare lists how got differs from want, rq's answers: status,
// headers, body, with the request headers of echoed left out of what
// httpbin echoes.
func compare(rq request, want, got answer, echoed []string) []string {
	if got.err != nil {
		return []string{"error: " + got.err.Error()}
	}
	var diffs []string
	if got.status != want.status {
		diffs = append(diffs, fmt.Sprintf("status %d, net/http %d", got.status, want.status))
	}
	for _, h := range compared {
		w, g := slices.Clone(want.header.Values(h)), slices.Clone(got.header.Values(h))
		if h == "Set-Cookie" {
			sort.Strings(w)
			sort.Strings(g)
		}
		if slices.Contains(rq.Volatile, h) && len(w) == len(g) {
			continue
		}
		if !slices.Equal(w, g) {
			diffs = append(diffs, fmt.Sprintf("%s: %q, net/http %q", h, g, w))
		}
	}
	if slices.Contains(rq.Volatile, "body") {
		if len(want.body) == 0 != (len(got.body) == 0) {
			diffs = append(diffs, fmt.Sprintf("body: %d bytes, net/http %d", len(got.body), len(want.body)))
		}
		return diffs
	}
	if d := compareBody(want, got, echoed); d != "" {
		diffs = append(diffs, d)
	}
	return diffs
}

// compareBody compares the bodies decompressed, JSON as data with what a
// server legitimately changes left out (normalize).
func compareBody(want, got answer, echoed []string) string {
	wb, gb := decoded(want), decoded(got)
	if bytes.Equal(wb, gb) {
		return ""
	}
	wj, werr := jsonLines(wb)
	gj, gerr := jsonLines(gb)
	if werr == nil && gerr == nil {
		for _, v := range append(wj, gj...) {
			normalize(v, echoed)
		}
		if reflect.DeepEqual(wj, gj) {
			return ""
		}
		if len(wj) == 1 && len(gj) == 1 {
			return jsonDiff("body", wj[0], gj[0])
		}
	}
	return fmt.Sprintf("body (%d bytes): %s\n\tnet/http (%d bytes): %s", len(gb), excerpt(gb), len(wb), excerpt(wb))
}

// decoded is a's body decompressed as its Content-Encoding says.
func decoded(a answer) []byte {
	var r io.Reader
	switch a.header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(a.body))
		if err != nil {
			return a.body
		}
		r = zr
	case "deflate": // zlib's format, as RFC 9110 says; some send raw DEFLATE
		zr, err := zlib.NewReader(bytes.NewReader(a.body))
		if err != nil {
			r = flate.NewReader(bytes.NewReader(a.body))
		} else {
			r = zr
		}
	default:
		return a.body
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return a.body
	}
	return b
}

// jsonLines parses b as JSON, or JSON lines (/stream).
func jsonLines(b []byte) ([]any, error) {
	var vs []any
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	return vs, nil
}

// normalize drops from an httpbin echo what a server changes for any
// program: the client's address (origin), the headers of echoedNotCompared
// and of echoed.
func normalize(v any, echoed []string) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	delete(m, "origin")
	if hs, ok := m["headers"].(map[string]any); ok {
		for _, h := range slices.Concat(echoed, echoedNotCompared) {
			delete(hs, h)
		}
	}
}

// jsonDiff lists the fields of got that differ from want.
func jsonDiff(at string, want, got any) string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if !wok || !gok {
		if reflect.DeepEqual(want, got) {
			return ""
		}
		return fmt.Sprintf("%s: %s, net/http %s", at, excerpt(marshal(got)), excerpt(marshal(want)))
	}
	var keys []string
	for k := range wm {
		keys = append(keys, k)
	}
	for k := range gm {
		if _, ok := wm[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if d := jsonDiff(at+"."+k, wm[k], gm[k]); d != "" {
			out = append(out, d)
		}
	}
	return strings.Join(out, "\n\t")
}

func marshal(v any) []byte {
	if v == nil {
		return []byte("(absent)")
	}
	b, _ := json.Marshal(v)
	return b
}

func excerpt(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q...", b[:300])
	}
	return fmt.Sprintf("%q", b)
}
