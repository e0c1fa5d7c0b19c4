package responder

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gatewayEcho answers with what it was asked, the body's size and hash.
var gatewayEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/panic" {
		panic("boom")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n := r.URL.Query().Get("big"); n != "" {
		size, _ := strconv.Atoi(n)
		w.Write(bytes.Repeat([]byte("x"), size))
		return
	}
	sum := sha256.Sum256(body)
	http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
	http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "%s %s host=%s remote=%s cookie=%s x=%s len=%d sha=%s",
		r.Method, r.RequestURI, r.Host, r.RemoteAddr, r.Header.Get("Cookie"), r.Header.Get("X-Test"), len(body), hex.EncodeToString(sum[:4]))
})

func wantEcho(method, uri string, body []byte) string {
	sum := sha256.Sum256(body)
	return fmt.Sprintf("%s %s host=example.org remote=127.0.0.2:5555 cookie=c=1 x=yes len=%d sha=%s", method, uri, len(body), hex.EncodeToString(sum[:4]))
}

// scgiRequest is what nginx sends for a request: the header netstring,
// then the body.
func scgiRequest(method, uri string, body []byte) []byte {
	path, query, _ := strings.Cut(uri, "?")
	var h []byte
	for _, kv := range [][2]string{
		{"CONTENT_LENGTH", strconv.Itoa(len(body))}, {"SCGI", "1"}, {"REQUEST_METHOD", method},
		{"REQUEST_URI", uri}, {"QUERY_STRING", query}, {"DOCUMENT_URI", path}, {"SERVER_PROTOCOL", "HTTP/1.1"},
		{"REMOTE_ADDR", "127.0.0.2"}, {"REMOTE_PORT", "5555"}, {"SERVER_NAME", "example.org"},
		{"HTTP_HOST", "example.org"}, {"HTTP_COOKIE", "c=1"}, {"HTTP_X_TEST", "yes"},
	} {
		h = append(append(append(append(h, kv[0]...), 0), kv[1]...), 0)
	}
	b := append(strconv.AppendInt(nil, int64(len(h)), 10), ':')
	return append(append(append(b, h...), ','), body...)
}

// scgiDo sends raw and returns the status line and body of the answer.
func scgiDo(t *testing.T, path string, raw []byte) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	go c.Write(raw)
	// A CGI response is an HTTP response without its status line.
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader("HTTP/1.1 200 CGI\r\n"), c)), nil)
	if err != nil {
		t.Fatalf("reading the SCGI response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the SCGI response body: %v", err)
	}
	code, _, _ := strings.Cut(resp.Header.Get("Status"), " ")
	resp.StatusCode, _ = strconv.Atoi(code)
	return resp, string(body)
}

func TestSCGI(t *testing.T) {
	srv := &Server{Handler: gatewayEcho}
	var logged func() string
	srv.Logger, logged = newTestLog(t)
	path := startServerWith(t, srv, NewSCGIListener)

	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16+3)
	for _, tc := range []struct {
		method, uri string
		body        []byte
	}{
		{"GET", "/a/b?x=1", nil},
		{"POST", "/form", []byte("name=gopher")},
		{"POST", "/upload", big},
	} {
		resp, body := scgiDo(t, path, scgiRequest(tc.method, tc.uri, tc.body))
		if resp.StatusCode != 202 || body != wantEcho(tc.method, tc.uri, tc.body) {
			t.Errorf("%s %s: %d %q, want 202 %q", tc.method, tc.uri, resp.StatusCode, body, wantEcho(tc.method, tc.uri, tc.body))
		}
		if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
			t.Errorf("Set-Cookie %q, want both cookies", got)
		}
	}
	resp, body := scgiDo(t, path, scgiRequest("GET", "/?big=1048576", nil))
	if resp.StatusCode != 200 || len(body) != 1<<20 {
		t.Errorf("1 MiB response: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := scgiDo(t, path, scgiRequest("GET", "/panic", nil)); resp.StatusCode != 500 {
		t.Errorf("panicking handler: %d, want 500", resp.StatusCode)
	}

	for _, tc := range []struct{ name, raw, log string }{
		{"not SCGI", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "is the peer speaking SCGI?"},
		{"no comma", "4:A\x00b\x00;", "does not end with a comma"},
		{"no CONTENT_LENGTH", "4:A\x00b\x00,", "no CONTENT_LENGTH"},
		{"odd pairs", "18:CONTENT_LENGTH\x000\x00X,", "not NUL-separated"},
		{"huge", "99999999:", "more than the limit"},
	} {
		checkRefused(t, path, logged, tc.name, tc.raw, tc.log)
	}
}

// ajpString is a string as AJP13 encodes one.
func ajpString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(append(b, s...), 0)
}

func ajpPacket(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{0x12, 0x34}, uint16(len(payload))), payload...)
}

// ajpForward is what mod_proxy_ajp sends for a request.
func ajpForward(method byte, uri string, headers [][2]string) []byte {
	path, query, _ := strings.Cut(uri, "?")
	b := []byte{ajpForwardReq, method}
	for _, s := range []string{"HTTP/1.1", path, "127.0.0.2", "127.0.0.2", "example.org"} {
		b = ajpString(b, s)
	}
	b = append(b, 0, 80, 0) // port, is_ssl
	b = binary.BigEndian.AppendUint16(b, uint16(len(headers)+1))
	b = append(b, 0xa0, 0x09) // coded: Cookie
	b = ajpString(b, "c=1")
	for _, h := range headers {
		b = ajpString(ajpString(b, h[0]), h[1])
	}
	if query != "" {
		b = ajpString(append(b, 0x05), query)
	}
	b = ajpString(ajpString(append(b, ajpAttrReq), "AJP_REMOTE_PORT"), "5555")
	return ajpPacket(append(b, ajpAttrEnd))
}

type ajpResponse struct {
	status    int
	header    http.Header
	body      []byte
	reuse     bool
	maxPacket int
}

// ajpDo sends a request as mod_proxy_ajp does: the first body chunk of a
// known length unasked, the rest when asked.
func ajpDo(t *testing.T, c net.Conn, method byte, uri string, body []byte, chunked bool, extra ...[2]string) ajpResponse {
	t.Helper()
	headers := append([][2]string{{"Host", "example.org"}, {"X-Test", "yes"}}, extra...)
	if chunked {
		headers = append(headers, [2]string{"Transfer-Encoding", "chunked"})
	} else if body != nil {
		headers = append(headers, [2]string{"Content-Length", strconv.Itoa(len(body))})
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(ajpForward(method, uri, headers)); err != nil {
		t.Fatal(err)
	}
	sendChunk := func(max int) {
		n := min(len(body), max)
		p := binary.BigEndian.AppendUint16(nil, uint16(n))
		if _, err := c.Write(ajpPacket(append(p, body[:n]...))); err != nil {
			t.Fatal(err)
		}
		body = body[n:]
	}
	if !chunked && len(body) > 0 {
		sendChunk(ajpMaxBodyAsk)
	}
	r := ajpResponse{header: http.Header{}}
	for {
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			t.Fatalf("reading an AJP packet: %v", err)
		}
		if string(h[:2]) != "AB" {
			t.Fatalf("packet starts with %q, want AB", h[:2])
		}
		p := make([]byte, binary.BigEndian.Uint16(h[2:]))
		if _, err := io.ReadFull(c, p); err != nil {
			t.Fatal(err)
		}
		r.maxPacket = max(r.maxPacket, len(p)+4)
		rd := ajpReader{b: p[1:]}
		switch p[0] {
		case ajpGetBodyChunk:
			sendChunk(rd.uint16())
		case ajpSendHeaders:
			r.status = rd.uint16()
			rd.string()
			for range rd.uint16() {
				name, _ := rd.string()
				value, _ := rd.string()
				r.header.Add(string(name), string(value))
			}
			if rd.bad {
				t.Fatalf("bad SEND_HEADERS %q", p)
			}
		case ajpSendBodyChunk:
			chunk, ok := rd.string()
			if !ok || len(rd.b) != 0 {
				t.Fatalf("bad SEND_BODY_CHUNK of %d bytes", len(p))
			}
			r.body = append(r.body, chunk...)
		case ajpEndResponse:
			r.reuse = p[1] == 1
			return r
		default:
			t.Fatalf("unexpected packet type %d", p[0])
		}
	}
}

func TestAJP(t *testing.T) {
	srv := &Server{Handler: gatewayEcho}
	var logged func() string
	srv.Logger, logged = newTestLog(t)
	path := startServerWith(t, srv, NewAJPListener)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// CPING, as mod_proxy_ajp's ping= sends before reusing a connection.
	c.Write(ajpPacket([]byte{ajpCPing}))
	pong := make([]byte, 5)
	if _, err := io.ReadFull(c, pong); err != nil || string(pong) != "AB\x00\x01\x09" {
		t.Fatalf("CPING answered %q, %v; want CPONG", pong, err)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16+3)
	// One connection serves them all, as mod_proxy_ajp reuses it.
	for _, tc := range []struct {
		name        string
		method      byte
		uri         string
		body        []byte
		chunked     bool
		wantMethod  string
		wantBodyLen int
	}{
		{"GET", 2, "/a/b?x=1", nil, false, "GET", 0},
		{"POST form", 4, "/form", []byte("name=gopher"), false, "POST", 11},
		{"POST 100 KiB", 4, "/upload", big, false, "POST", len(big)},
		{"chunked PUT", 5, "/put", big[:20000], true, "PUT", 20000},
	} {
		r := ajpDo(t, c, tc.method, tc.uri, tc.body, tc.chunked)
		want := wantEcho(tc.wantMethod, tc.uri, tc.body)
		if r.status != 202 || string(r.body) != want {
			t.Errorf("%s: %d %q, want 202 %q", tc.name, r.status, r.body, want)
		}
		if got := r.header.Values("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
			t.Errorf("%s: Set-Cookie %q, want both cookies", tc.name, got)
		}
		if !r.reuse {
			t.Errorf("%s: END_RESPONSE does not offer the connection for reuse", tc.name)
		}
	}
	r := ajpDo(t, c, 2, "/?big=1048576", nil, false)
	if r.status != 200 || len(r.body) != 1<<20 || r.maxPacket > ajpMaxPacket {
		t.Errorf("1 MiB response: %d, %d bytes, packets up to %d bytes", r.status, len(r.body), r.maxPacket)
	}
	if r := ajpDo(t, c, 2, "/panic", nil, false); r.status != 500 {
		t.Errorf("panicking handler: %d, want 500", r.status)
	}

	for _, tc := range []struct{ name, raw, log string }{
		{"not AJP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "is the peer speaking AJP13?"},
		{"truncated", string(ajpPacket([]byte{ajpForwardReq, 2, 0, 8, 'H'})), "truncated request"},
		{"bad method", string(ajpPacket([]byte{ajpForwardReq, 99})), "unknown method code 99"},
		{"container packet", string(ajpPacket([]byte{ajpSendHeaders})), "packet of type 4"},
	} {
		checkRefused(t, path, logged, tc.name, tc.raw, tc.log)
	}
}

// Header names with underscores are dropped, as Apache and nginx drop them
// for CGI and FastCGI: X_Remote_User would reach the handler as
// X-Remote-User, and Content_Length as the body's length.
func TestAJP_UnderscoreHeadersDropped(t *testing.T) {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user=%q length=%d", r.Header.Get("X-Remote-User"), r.ContentLength)
	})}
	path := startServerWith(t, srv, NewAJPListener)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := ajpDo(t, c, 2, "/", nil, false, [2]string{"X_Remote_User", "admin"}, [2]string{"Content_Length", "5"})
	if r.status != 200 || string(r.body) != `user="" length=0` {
		t.Errorf("%d %q; want the underscore headers dropped", r.status, r.body)
	}
}

// checkRefused sends raw and wants the connection closed unanswered, with
// a log line saying why.
func checkRefused(t *testing.T, path string, logged func() string, name, raw, log string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write([]byte(raw))
	if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
		t.Errorf("%s: got %q, %v; want the connection closed", name, got, err)
	}
	if !strings.Contains(logged(), log) {
		t.Errorf("%s: no log line saying %q", name, log)
	}
}

// The read buffer grows with the bytes that arrive, not to the length a
// peer announces: 900 connections each sending "1048576:" must not hold
// 900 MiB.
func TestGateway_BufferGrowsAsBytesArrive(t *testing.T) {
	a, b := net.Pipe()
	g := &gatewayConn{Conn: a}
	done := make(chan error, 1)
	go func() { done <- g.fill(1 << 20) }()
	b.Write(make([]byte, 100<<10))
	b.Close()
	if err := <-done; err != io.ErrUnexpectedEOF {
		t.Fatalf("fill: %v, want io.ErrUnexpectedEOF", err)
	}
	if c := cap(g.raw); c > 256<<10 {
		t.Errorf("%d KiB held for 100 KiB received of an announced 1 MiB", c>>10)
	}
}
