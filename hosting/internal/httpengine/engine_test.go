package httpengine

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/responder"
)

// The client's address and scheme come from X-Forwarded-* only when the
// peer is a proxy to trust.
func TestHTTPEngine_Forwarded(t *testing.T) {
	var got *http.Request
	e := New(&responder.Server{
		Handler:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }),
		AllowedAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
	}, zerolog.Nop())
	for _, tc := range []struct {
		peer, wantAddr string
		wantTLS        bool
	}{
		{"127.0.0.1:4000", "198.51.100.7:0", true},
		{"[::1]:4000", "198.51.100.7:0", true},
		{"@", "198.51.100.7:0", true}, // a unix socket
		{"192.0.2.1:4000", "198.51.100.7:0", true},
		{"203.0.113.5:4000", "203.0.113.5:4000", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("X-Forwarded-For", "10.9.9.9, 198.51.100.7")
		r.Header.Set("X-Forwarded-Proto", "https")
		e.srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
		if got.RemoteAddr != tc.wantAddr || (got.TLS != nil) != tc.wantTLS {
			t.Errorf("from %s: RemoteAddr %s, TLS %v; want %s, %v", tc.peer, got.RemoteAddr, got.TLS != nil, tc.wantAddr, tc.wantTLS)
		}
	}

	// HAProxy's option forwardfor appends a line of its own: a client's
	// line before it, naming any address, must not be believed.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Add("X-Forwarded-For", "10.0.0.1")
	r.Header.Add("X-Forwarded-For", "198.51.100.7")
	r.Header.Add("X-Forwarded-Proto", "https")
	r.Header.Add("X-Forwarded-Proto", "http")
	e.srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
	if got.RemoteAddr != "198.51.100.7:0" || got.TLS != nil {
		t.Errorf("behind HAProxy: RemoteAddr %s, TLS %v; want the proxy's entry 198.51.100.7 and plain http", got.RemoteAddr, got.TLS != nil)
	}
}

// Behind Passenger, which passes a client's X-Forwarded-* on as they came,
// only its own headers name the client and the scheme.
func TestHTTPEngine_ForwardedByPassenger(t *testing.T) {
	var got *http.Request
	e := New(&responder.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r })}, zerolog.Nop())
	e.Passenger = true
	for _, tc := range []struct {
		name     string
		headers  map[string]string
		wantAddr string
		wantTLS  bool
	}{
		{"over http, forged by the client", map[string]string{"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https",
			"!~Passenger-Client-Address": "198.51.100.7"}, "198.51.100.7:0", false},
		{"over https", map[string]string{"X-Forwarded-Proto": "https", "!~Passenger-Proto": "https",
			"!~Passenger-Client-Address": "2001:db8::7"}, "[2001:db8::7]:0", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:4000"
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		e.srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
		if got.RemoteAddr != tc.wantAddr || (got.TLS != nil) != tc.wantTLS {
			t.Errorf("%s: RemoteAddr %s, TLS %v; want %s, %v", tc.name, got.RemoteAddr, got.TLS != nil, tc.wantAddr, tc.wantTLS)
		}
	}
}

// With FCGI_WEB_SERVER_ADDRS (here AllowedAddrs) set, other peers are
// refused as the FastCGI engine refuses them.
func TestHTTPEngine_RefusesUnlistedPeers(t *testing.T) {
	for _, tc := range []struct {
		allowed []netip.Addr
		served  bool
	}{
		{nil, true},
		{[]netip.Addr{netip.MustParseAddr("127.0.0.1")}, true},
		{[]netip.Addr{netip.MustParseAddr("192.0.2.1")}, false},
	} {
		e := New(&responder.Server{
			Handler:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
			AllowedAddrs: tc.allowed,
		}, zerolog.Nop())
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go e.Serve(l)
		client := &http.Client{Timeout: 30 * time.Second} // bounds a hang only: a refused peer is closed at once
		resp, err := client.Get("http://" + l.Addr().String() + "/")
		if served := err == nil && resp.StatusCode == 200; served != tc.served {
			t.Errorf("allowed %v: served %v (%v), want %v", tc.allowed, served, err, tc.served)
		}
		if err == nil {
			resp.Body.Close()
		}
		e.Close()
		l.Close()
	}
}

// A handler that leaves a request body unread does not break the next
// request on the connection (golang/go#68560 under full duplex): behind
// Apache mod_proxy_http that next request got a 502.
func TestHTTPEngine_UnreadBodyThenNextRequest(t *testing.T) {
	e := New(&responder.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
	}, zerolog.Nop())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go e.Serve(l)
	defer e.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // bounds a hang only
	br := bufio.NewReader(c)
	for i, req := range []string{
		"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello=world",
		"GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the connection: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("request %d on the connection: %d %q, want 200 \"ok\"", i+1, resp.StatusCode, b)
		}
	}
}
