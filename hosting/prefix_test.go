package hosting

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
	"github.com/fcgi-hosting/fcgi/responder"
)

// TestPrefix sends the variables each server really sends through the
// FastCGI engine and checks the prefix, the path the handler sees and a
// link it builds.
func TestPrefix(t *testing.T) {
	apache := map[string]string{"SERVER_SOFTWARE": "Apache/2.4.71 (Debian) mod_fcgid/2.3.9"}
	tests := []struct {
		name    string
		force   string
		params  map[string]string
		prefix  string
		path    string
		linkFor string
	}{
		{name: "apache root rewrite", params: map[string]string{"REQUEST_URI": "/sub/path?x=1", "SCRIPT_NAME": "/mysite.fcgi",
			"PATH_INFO": "/sub/path", "REDIRECT_URL": "/sub/path"}, prefix: "", path: "/sub/path", linkFor: "/echo"},
		{name: "apache root", params: map[string]string{"REQUEST_URI": "/", "SCRIPT_NAME": "/mysite.fcgi", "PATH_INFO": "/",
			"REDIRECT_URL": "/"}, prefix: "", path: "/", linkFor: "/echo"},
		{name: "apache subdirectory", params: map[string]string{"REQUEST_URI": "/app/sub/path", "SCRIPT_NAME": "/app/mysite.fcgi",
			"PATH_INFO": "/sub/path", "REDIRECT_URL": "/app/sub/path"}, prefix: "/app", path: "/sub/path", linkFor: "/app/echo"},
		{name: "apache rewrite without path info", params: map[string]string{"REQUEST_URI": "/sub/path?x=1", "SCRIPT_NAME": "/mysite.fcgi",
			"REDIRECT_URL": "/sub/path"}, prefix: "", path: "/sub/path", linkFor: "/echo"},
		{name: "apache subdirectory without path info", params: map[string]string{"REQUEST_URI": "/app/sub/a%2Fb", "SCRIPT_NAME": "/app/mysite.fcgi",
			"REDIRECT_URL": "/app/sub/a/b"}, prefix: "/app", path: "/sub/a/b", linkFor: "/app/echo"},
		{name: "apache subdirectory without path info, no final slash", params: map[string]string{"REQUEST_URI": "/app",
			"SCRIPT_NAME": "/app/mysite.fcgi", "REDIRECT_URL": "/app"}, prefix: "/app", path: "/", linkFor: "/app/echo"},
		{name: "apache ~user without path info", params: map[string]string{"REQUEST_URI": "/%7Emeg/", "SCRIPT_NAME": "/~meg/mysite.fcgi",
			"REDIRECT_URL": "/~meg/"}, prefix: "/~meg", path: "/", linkFor: "/~meg/echo"},
		{name: "apache subdirectory without path info, dot segments", params: map[string]string{"REQUEST_URI": "/app/x/%2e%2e/q",
			"SCRIPT_NAME": "/app/mysite.fcgi", "REDIRECT_URL": "/app/q"}, prefix: "/app", path: "/x/../q", linkFor: "/app/echo"},
		{name: "apache ErrorDocument to the script", params: map[string]string{"REQUEST_URI": "/app/gone", "SCRIPT_NAME": "/mysite.fcgi",
			"REDIRECT_URL": "/app/gone", "REDIRECT_STATUS": "404"}, prefix: "", path: "/app/gone", linkFor: "/echo"},
		{name: "apache script addressed directly", params: map[string]string{"REQUEST_URI": "/app/mysite.fcgi/sub",
			"SCRIPT_NAME": "/app/mysite.fcgi", "PATH_INFO": "/sub"}, prefix: "/app/mysite.fcgi", path: "/sub", linkFor: "/app/mysite.fcgi/echo"},
		{name: "apache script itself", params: map[string]string{"REQUEST_URI": "/mysite.fcgi", "SCRIPT_NAME": "/mysite.fcgi"},
			prefix: "/mysite.fcgi", path: "/", linkFor: "/mysite.fcgi/echo"},
		{name: "lighttpd", params: map[string]string{"REQUEST_URI": "/raw/sub/path?x=1", "SCRIPT_NAME": "/raw", "PATH_INFO": "/sub/path",
			"SERVER_SOFTWARE": "lighttpd/1.4.69"}, prefix: "/raw", path: "/sub/path", linkFor: "/raw/echo"},
		{name: "nginx template", params: map[string]string{"REQUEST_URI": "/sub/path", "SCRIPT_NAME": "", "PATH_INFO": "/sub/path",
			"SERVER_SOFTWARE": "nginx/1.22.1"}, prefix: "", path: "/sub/path", linkFor: "/echo"},
		{name: "nginx stock fastcgi_params", params: map[string]string{"REQUEST_URI": "/sub/path", "SCRIPT_NAME": "/sub/path",
			"SERVER_SOFTWARE": "nginx/1.22.1"}, prefix: "", path: "/sub/path", linkFor: "/echo"},
		{name: "apache mod_proxy_fcgi", params: map[string]string{"REQUEST_URI": "/sub/path?x=1", "SCRIPT_NAME": "/sub/path",
			"SCRIPT_FILENAME": "proxy:fcgi://mysite/sub/path"}, prefix: "", path: "/sub/path", linkFor: "/echo"},
		{name: "apache mod_proxy_fcgi after an internal redirect", params: map[string]string{"REQUEST_URI": "/sub/path",
			"SCRIPT_NAME": "/sub/path", "SCRIPT_FILENAME": "proxy:fcgi://mysite/sub/path", "REDIRECT_URL": "/sub/path"},
			prefix: "", path: "/sub/path", linkFor: "/echo"},
		{name: "FORCE_SCRIPT_NAME", force: "/blog", params: map[string]string{"REQUEST_URI": "/blog/post/1", "SCRIPT_NAME": "/cgi/x.fcgi",
			"PATH_INFO": "/whatever"}, prefix: "/blog", path: "/post/1", linkFor: "/blog/echo"},
		{name: "request line with dot segments", params: map[string]string{"REQUEST_URI": "/x/../get", "SCRIPT_NAME": "/mysite.fcgi",
			"PATH_INFO": "/get", "REDIRECT_URL": "/get"}, prefix: "", path: "/x/../get", linkFor: "/echo"},
		{name: "request line steering the prefix off the site", params: map[string]string{"REQUEST_URI": "//evil.example/%2e%2e/",
			"SCRIPT_NAME": "/mysite.fcgi", "PATH_INFO": "/", "REDIRECT_URL": "/"}, prefix: "", path: "//evil.example/../", linkFor: "/echo"},
		{name: "encoded dot segments in a subdirectory", params: map[string]string{"REQUEST_URI": "/app/anything/%2e%2e/q",
			"SCRIPT_NAME": "/app/mysite.fcgi", "PATH_INFO": "/q", "REDIRECT_URL": "/app/q"}, prefix: "/app", path: "/anything/../q", linkFor: "/app/echo"},
		{name: "encoded path", params: map[string]string{"REQUEST_URI": "/app/a%2Fb/c", "SCRIPT_NAME": "/app/mysite.fcgi",
			"PATH_INFO": "/a/b/c", "REDIRECT_URL": "/app/a/b/c"}, prefix: "/app", path: "/a/b/c", linkFor: "/app/echo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := settings.Defaults()
			if tc.force != "" {
				s.ForceScriptName, s.ForceScriptNameSet = tc.force, true
			}
			type seen struct{ prefix, path, link string }
			got := make(chan seen, 1)
			h := withPrefix(&s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- seen{Prefix(r), r.URL.Path, URL(r, "/echo")}
			}))
			params := map[string]string{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1"}
			for k, v := range apache {
				params[k] = v
			}
			for k, v := range tc.params {
				params[k] = v
			}
			serveOnce(t, h, params)
			if g := <-got; g != (seen{tc.prefix, tc.path, tc.linkFor}) {
				t.Errorf("prefix %q path %q link %q; want %q %q %q", g.prefix, g.path, g.link, tc.prefix, tc.path, tc.linkFor)
			}
		})
	}
}

// serveOnce serves one FastCGI request with params through h.
func serveOnce(t *testing.T, h http.Handler, params map[string]string) (*responder.ClientResponse, string) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &responder.Server{Handler: h}
	go srv.Serve(l)
	defer srv.Close()
	c, err := responder.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Do(context.Background(), &responder.ClientRequest{Params: params})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// URL yields a path on the site whatever it is given: a browser follows
// //host/x and /\host/x off the site.
func TestURLStaysOnSite(t *testing.T) {
	for _, tc := range []struct{ prefix, path, want string }{
		{"", "/echo", "/echo"},
		{"/app", "/echo", "/app/echo"},
		{"", "//evil.example/x", "/evil.example/x"},
		{"", "/\\evil.example/x", "/evil.example/x"},
		{"/", "/evil.example/x", "/evil.example/x"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r = r.WithContext(context.WithValue(r.Context(), prefixKey{}, tc.prefix))
		if got := URL(r, tc.path); got != tc.want {
			t.Errorf("URL with prefix %q of %q = %q, want %q", tc.prefix, tc.path, got, tc.want)
		}
	}
}

// The prefix is found for every request: a clean path costs no allocation.
func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"/sub/path": "/sub/path", "/app/": "/app/", "/": "/", "": "",
		"//evil.example/../": "/", "/x/../get": "/get", "a/b": "/a/b", "/a//b/": "/a/b/"} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { cleanPath("/sub/path"); cleanPath("/app/") }); n != 0 {
		t.Errorf("%v allocations for clean paths, want none", n)
	}
}

// A redirect the handler makes to a path of the site, as ServeMux makes
// to add a final slash, stays on a site in a subdirectory.
func TestRedirectsStayOnSite(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dir/", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /to", func(w http.ResponseWriter, r *http.Request) {
		to := r.URL.Query().Get("to")
		if to == "URL" {
			to = URL(r, "/info")
		}
		http.Redirect(w, r, to, http.StatusFound)
	})
	s := settings.Defaults()
	h := withPrefix(&s, (&errorPages{}).middleware(mux))
	for _, tc := range []struct{ site, path, want string }{
		{"/app", "/dir", "/app/dir/"},
		{"/app", "/to?to=/info", "/app/info"},
		{"/app", "/to?to=URL", "/app/info"},
		{"/app", "/to?to=/app/info", "/app/info"},
		{"/app", "/to?to=/app", "/app"},
		{"/app", "/to?to=/apple", "/app/apple"},
		{"/app", "/to?to=https://example.com/x", "https://example.com/x"},
		{"/app", "/to?to=//example.com/x", "//example.com/x"},
		{"", "/dir", "/dir/"},
		{"", "/to?to=/info", "/info"},
	} {
		uri := tc.site + tc.path
		p, q, _ := strings.Cut(uri, "?")
		resp, _ := serveOnce(t, h, map[string]string{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
			"SERVER_SOFTWARE": "Apache/2.4.71 (Debian) mod_fcgid/2.3.9", "REQUEST_URI": uri, "QUERY_STRING": q,
			"SCRIPT_NAME": tc.site + "/mysite.fcgi", "REDIRECT_URL": p})
		if got := resp.Header.Get("Location"); got != tc.want {
			t.Errorf("%s: Location %q, want %q", uri, got, tc.want)
		}
	}
}
