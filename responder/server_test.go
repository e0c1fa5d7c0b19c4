package responder

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestServer_Basic(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<!DOCTYPE html><p>hi") })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/typed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{}`)
	})
	mux.HandleFunc("/split", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Evil", "a\r\nSet-Cookie: pwned=1")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusSeeOther)
	})
	path := startServer(t, &Server{Handler: mux})

	tests := []struct {
		name, uri, method string
		status            int
		header            map[string]string
		body              string
	}{
		{name: "plain text is sniffed", uri: "/text", status: 200,
			header: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "5"}, body: "hello"},
		{name: "html is sniffed", uri: "/html", status: 200,
			header: map[string]string{"Content-Type": "text/html; charset=utf-8"}, body: "<!DOCTYPE html><p>hi"},
		{name: "no body, no content type", uri: "/empty", status: 204,
			header: map[string]string{"Content-Type": "", "Content-Length": ""}},
		{name: "status and headers kept", uri: "/typed", status: 201,
			header: map[string]string{"Content-Type": "application/json", "Set-Cookie": "a=1"}, body: "{}"},
		{name: "header value cannot split the response", uri: "/split", status: 200,
			header: map[string]string{"X-Evil": "a  Set-Cookie: pwned=1", "Set-Cookie": ""}, body: "ok"},
		{name: "redirect", uri: "/redirect", status: 303,
			header: map[string]string{"Location": "/elsewhere"}},
		{name: "HEAD has no body but a length", uri: "/text", method: "HEAD", status: 200,
			header: map[string]string{"Content-Length": "5"}, body: ""},
		{name: "not found", uri: "/nope", status: 404, body: "404 page not found\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, path)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp, body := do(t, c, &ClientRequest{Params: withParams(map[string]string{"REQUEST_URI": tc.uri, "REQUEST_METHOD": method})})
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.body != "" && body != tc.body || tc.body == "" && body != "" && tc.status != 303 {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if resp.AppStatus() != 0 {
				t.Errorf("app status %d", resp.AppStatus())
			}
		})
	}
}

func TestServer_Request(t *testing.T) {
	type seen struct {
		Method, URL, Path, RawPath, RequestURI, Host, RemoteAddr, Proto, UserAgent string
		TLS                                                                        bool
		ContentLength                                                              int64
		ScriptName, PathInfo, ScriptFilename, RedirectURL                          string
		HasRemoteUser                                                              bool
		NParams                                                                    int
	}
	got := make(chan seen, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Method: r.Method, URL: r.URL.String(), Path: r.URL.Path, RawPath: r.URL.RawPath, RequestURI: r.RequestURI,
			Host: r.Host, RemoteAddr: r.RemoteAddr, Proto: r.Proto, UserAgent: r.UserAgent(), TLS: r.TLS != nil,
			ContentLength: r.ContentLength}
		s.ScriptName, _ = Param(r, "SCRIPT_NAME")
		s.PathInfo, _ = Param(r, "PATH_INFO")
		s.ScriptFilename, _ = Param(r, "SCRIPT_FILENAME")
		s.RedirectURL, _ = Param(r, "REDIRECT_URL")
		_, s.HasRemoteUser = Param(r, "REMOTE_USER")
		for range Params(r) {
			s.NParams++
		}
		got <- s
	})
	path := startServer(t, &Server{Handler: h})
	tests := []struct {
		name   string
		params map[string]string
		want   seen
	}{
		{"apache rewrite", baseParams(), seen{Method: "GET", URL: "/sub/path?x=1", Path: "/sub/path", RequestURI: "/sub/path?x=1",
			Host: "127.0.0.1:18090", RemoteAddr: "127.0.0.1:54321", Proto: "HTTP/1.1", UserAgent: "curl/7.88.1",
			ScriptName: "/mysite.fcgi", PathInfo: "/sub/path", ScriptFilename: "/var/www/mysite.fcgi", RedirectURL: "/sub/path", NParams: 21}},
		{"raw path kept", withParams(map[string]string{"REQUEST_URI": "/a%2Fb/c%20d?q=%26"}), seen{Method: "GET", URL: "/a%2Fb/c%20d?q=%26",
			Path: "/a/b/c d", RawPath: "/a%2Fb/c%20d", RequestURI: "/a%2Fb/c%20d?q=%26", Host: "127.0.0.1:18090", RemoteAddr: "127.0.0.1:54321",
			Proto: "HTTP/1.1", UserAgent: "curl/7.88.1", ScriptName: "/mysite.fcgi", PathInfo: "/sub/path", ScriptFilename: "/var/www/mysite.fcgi",
			RedirectURL: "/sub/path", NParams: 21}},
		{"no REQUEST_URI, no Host, https, IPv6", withParams(map[string]string{"REQUEST_URI": "", "HTTP_HOST": "", "HTTPS": "on",
			"REMOTE_ADDR": "::1", "SERVER_PORT": "8443", "SERVER_PROTOCOL": "HTTP/2.0", "REMOTE_USER": "alice", "REQUEST_METHOD": "POST",
			"CONTENT_LENGTH": "0"}),
			seen{Method: "POST", URL: "/mysite.fcgi/sub/path?x=1", Path: "/mysite.fcgi/sub/path", RequestURI: "/mysite.fcgi/sub/path?x=1",
				Host: "127.0.0.1:8443", RemoteAddr: "[::1]:54321", Proto: "HTTP/2.0", UserAgent: "curl/7.88.1", TLS: true,
				ScriptName: "/mysite.fcgi", PathInfo: "/sub/path", ScriptFilename: "/var/www/mysite.fcgi", RedirectURL: "/sub/path",
				HasRemoteUser: true, NParams: 22}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, path)
			do(t, c, &ClientRequest{Params: tc.params})
			if s := <-got; s != tc.want {
				t.Errorf("handler saw\n %+v\nwant\n %+v", s, tc.want)
			}
		})
	}
}

func TestServer_Headers(t *testing.T) {
	got := make(chan http.Header, 1)
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header })})
	c := dialClient(t, path)
	do(t, c, &ClientRequest{Params: withParams(map[string]string{
		"HTTP_X_CUSTOM_THING": "1", "HTTP_ACCEPT_LANGUAGE": "de", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "0",
		"HTTP_COOKIE": "a=b", "HTTP_CONTENT_TYPE": "text/plain", "HTTP_CONTENT_LENGTH": "0"})}) // nginx sends both
	h := <-got
	for k, v := range map[string]string{"X-Custom-Thing": "1", "Accept-Language": "de", "Content-Type": "text/plain",
		"Content-Length": "0", "Cookie": "a=b", "User-Agent": "curl/7.88.1", "Host": "127.0.0.1:18090"} {
		if len(h[k]) != 1 || h.Get(k) != v {
			t.Errorf("header %s = %q, want %q once, as net/http has it (all: %v)", k, h[k], v, h)
		}
	}
}

// mod_fcgid, lighttpd and Caddy send CONTENT_LENGTH=0 for every request,
// a GET too, where a client sends no Content-Length and net/http's handler
// sees none (a client sends Content-Length: 0 on a POST, PUT or PATCH); nginx passes the client's own header (HTTP_CONTENT_LENGTH)
// too, which says it was sent.
func TestServer_ContentLengthAsSent(t *testing.T) {
	got := make(chan http.Header, 1)
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header })})
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   []string
	}{
		{"GET, CONTENT_LENGTH=0", map[string]string{"CONTENT_LENGTH": "0"}, nil},
		{"HEAD, CONTENT_LENGTH=0", map[string]string{"REQUEST_METHOD": "HEAD", "CONTENT_LENGTH": "0"}, nil},
		{"DELETE, CONTENT_LENGTH=0", map[string]string{"REQUEST_METHOD": "DELETE", "CONTENT_LENGTH": "0"}, nil},
		{"PROPFIND, CONTENT_LENGTH=0", map[string]string{"REQUEST_METHOD": "PROPFIND", "CONTENT_LENGTH": "0"}, nil},
		{"GET, the client's Content-Length: 0", map[string]string{"CONTENT_LENGTH": "0", "HTTP_CONTENT_LENGTH": "0"}, []string{"0"}},
		{"POST, CONTENT_LENGTH=0", map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "0"}, []string{"0"}},
		{"GET with a body", map[string]string{"CONTENT_LENGTH": "3"}, []string{"3"}},
	} {
		c := dialClient(t, path)
		body := strings.Repeat("x", int(tc.params["CONTENT_LENGTH"][0]-'0'))
		do(t, c, &ClientRequest{Params: withParams(tc.params), Stdin: strings.NewReader(body)})
		if h := <-got; !slices.Equal(h["Content-Length"], tc.want) {
			t.Errorf("%s: Content-Length %q, want %q as net/http has it", tc.name, h["Content-Length"], tc.want)
		}
	}
}

// A response without a body carries no length, and a 304 no type either,
// as net/http sends them.
func TestServer_HeadersOfBodilessResponses(t *testing.T) {
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "42")
		w.Header().Set("ETag", `"v1"`)
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	})})
	for _, tc := range []struct {
		code     int
		want     []string
		withheld []string
	}{
		{304, []string{"Etag"}, []string{"Content-Type", "Content-Length"}},
		{204, []string{"Etag", "Content-Type"}, []string{"Content-Length"}},
		{200, []string{"Etag", "Content-Type", "Content-Length"}, nil},
	} {
		c := dialClient(t, path)
		resp, _ := do(t, c, &ClientRequest{Params: withParams(map[string]string{"QUERY_STRING": "code=" + strconv.Itoa(tc.code),
			"REQUEST_URI": "/?code=" + strconv.Itoa(tc.code)})})
		for _, k := range tc.want {
			if _, ok := resp.Header[k]; !ok {
				t.Errorf("%d: %s missing (%v)", tc.code, k, resp.Header)
			}
		}
		for _, k := range tc.withheld {
			if v, ok := resp.Header[k]; ok {
				t.Errorf("%d: %s: %q sent; net/http leaves it out", tc.code, k, v)
			}
		}
	}
}

func TestServer_KeepConn(t *testing.T) {
	n := 0
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		fmt.Fprintf(w, "request %d", n)
	})})
	c := dialClient(t, path)
	for i := 1; i <= 3; i++ {
		_, body := do(t, c, &ClientRequest{KeepConn: true, Params: baseParams()})
		if want := fmt.Sprintf("request %d", i); body != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
	// Without FCGI_KEEP_CONN the server closes the connection after the
	// response; a request sent on it meanwhile is not served.
	do(t, c, &ClientRequest{Params: baseParams()})
	if _, err := c.Do(context.Background(), &ClientRequest{Params: baseParams()}); err == nil ||
		!strings.Contains(err.Error(), "closed") && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("request after a keep-conn-less one: err %v, want the connection closed", err)
	}
}

// A 200 with a Location on the site is sent absolute: CGI web servers
// (Apache, lighttpd) take a relative one for a local redirect and serve
// its target instead, looping when it leads back to the handler.
func TestServer_LocationOf200NotALocalRedirect(t *testing.T) {
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Query().Get("to"))
		w.WriteHeader(http.StatusOK)
	})})
	for _, tc := range []struct{ to, https, want string }{
		{"/next", "", "http://127.0.0.1:18090/next"},
		{"/next", "on", "https://127.0.0.1:18090/next"},
		{"//cdn.example/x", "", "//cdn.example/x"},
		{"https://example.org/", "", "https://example.org/"},
	} {
		p := withParams(map[string]string{"QUERY_STRING": "to=" + tc.to, "REQUEST_URI": "/?to=" + tc.to, "HTTPS": tc.https})
		resp, _ := do(t, dialClient(t, path), &ClientRequest{Params: p})
		if got := resp.Header.Get("Location"); got != tc.want {
			t.Errorf("Location %q (HTTPS=%q) sent as %q, want %q", tc.to, tc.https, got, tc.want)
		}
	}
}
