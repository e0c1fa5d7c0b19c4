// Package sitecheck is the end-to-end suite that runs, unchanged, against
// the local emulation and against a real Apache + mod_fcgid serving the
// same site, so that what works locally is shown to work on the host.
package sitecheck

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Env is the settings file of the checked sites. DEBUG shows the CGI
// variables on /info; the secret must never show.
const Env = "GREETING=v1\nDEBUG=true\nSECRET_KEY=hunter2\n"

// Layout uploads examples/hello (built at bin) into dir as a user would:
// at the root and again in the subdirectory app/, each with the .htaccess
// template, a settings file, a stylesheet and a log file.
func Layout(t testing.TB, dir, bin, htaccess string) {
	t.Helper()
	ht, err := os.ReadFile(htaccess)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"", "app"} {
		d := filepath.Join(dir, sub)
		os.MkdirAll(d, 0o755)
		for name, content := range map[string][]byte{".htaccess": ht, "mysite.env": []byte(Env),
			"style.css": []byte("body{color:red}"), "mysite.log": nil} {
			if err := os.WriteFile(filepath.Join(d, name), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "mysite.fcgi"), exe, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range Leftovers {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(Env), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Leftovers are copies of the settings file that editors and FTP clients
// leave beside it when it is edited on the host, and the development
// settings uploaded by mistake; they hold its secrets.
var Leftovers = []string{"mysite.env~", "mysite.env.~1~", ".mysite.env.swp", ".mysite.env.swo", ".mysite.env.swn",
	".mysite.env.un~", "#mysite.env#", "mysite.env.save", "mysite.env.bak", "mysite.env.orig", "mysite.env.old",
	"mysite.env.tmp", "mysite.env.txt", "mysite.log.1", "mysite.dev.env"}

// siteCase is a request to the site and what its answer must be.
type siteCase struct {
	name, method, path string
	body               []byte
	status             int
	contains           []string
	excludes           []string
	contentType        string
	location           string
}

// Run checks the site laid out by Layout and served at base.
func Run(t *testing.T, base string) {
	client := &http.Client{Timeout: time.Minute /* a hang only */, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	tests := []siteCase{
		{name: "greeting", path: "/", status: 200, contains: []string{"v1\n"}},
		{name: "root install", path: "/info", status: 200, contains: []string{"mode: fastcgi", `prefix: ""`, "path: /info",
			"link_to_echo: /echo", "SCRIPT_NAME=/mysite.fcgi\n", "REQUEST_URI=/info\n", "REDIRECT_URL=/info\n",
			"REDIRECT_STATUS=200\n", "GATEWAY_INTERFACE=CGI/1.1\n", "SECRET_KEY=********"}, excludes: []string{"PATH_INFO", "PATH_TRANSLATED"}},
		{name: "subdirectory install", path: "/app/info?q=%C3%A9", status: 200, contains: []string{`prefix: "/app"`, "path: /info",
			"link_to_echo: /app/echo", "SCRIPT_NAME=/app/mysite.fcgi\n", "REQUEST_URI=/app/info?q=%C3%A9\n",
			"QUERY_STRING=q=%C3%A9\n", "REDIRECT_URL=/app/info\n"}, excludes: []string{"PATH_INFO"}},
		{name: "script addressed directly", path: "/mysite.fcgi/info", status: 200, contains: []string{`prefix: "/mysite.fcgi"`,
			"path: /info", "PATH_INFO=/info\n"}, excludes: []string{"REDIRECT_URL"}},
		{name: "unknown path reaches the app", path: "/sub/path?x=1", status: 404, contains: []string{"Not Found"}},
		{name: "static file served by the web server", path: "/style.css", status: 200, contains: []string{"body{color:red}"},
			contentType: "text/css"},
		{name: "settings file refused", path: "/mysite.env", status: 403},
		{name: "log file refused", path: "/app/mysite.log", status: 403},
		{name: "absent protected name refused, not rewritten", path: "/config.env", status: 403},
		{name: "encoded slash refused", path: "/a%2Fb", status: 404},
		// Apache decodes the failed request's path again for the
		// ErrorDocument 500: %252e%252e would climb to another
		// directory's 500.html.
		{name: "a % in the script's path info refused", path: "/mysite.fcgi/%252e%252e/x", status: 403},
		{name: "encoded ?, %, # and %2F reach the application as sent", path: "/headers/a%3Fb%25c%23d%252Fe", status: 200,
			contains: []string{"path: /headers/a?b%c#d%2Fe\n"}},
		{name: "the same in a subdirectory", path: "/app/headers/a%3Fb%25c%23d%252Fe", status: 200,
			contains: []string{"path: /headers/a?b%c#d%2Fe\n"}},
		{name: "panic", path: "/panic", status: 500, contains: []string{"you asked for it"}},
		{name: "streamed", path: "/stream?n=3", status: 200, contains: []string{"line 1\nline 2\nline 3\n"}},
		{name: "post 100 KiB", method: "POST", path: "/echo", body: bytes.Repeat([]byte("0123456789"), 10<<10), status: 200},
		{name: "post over FcgidMaxRequestLen", method: "POST", path: "/echo", body: bytes.Repeat([]byte("x"), 200<<10), status: 500},
		{name: "subdirectory root", path: "/app/", status: 200, contains: []string{"v1\n"}},
		{name: "the application's redirect stays in the subdirectory", path: "/app/headers", status: 307, location: "/app/headers/"},
	}
	for _, name := range Leftovers {
		tests = append(tests, siteCase{name: "leftover " + name + " refused", path: "/" + url.PathEscape(name), status: 403})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, base+tc.path, bytes.NewReader(tc.body))
			if tc.body == nil {
				req.Body = nil
			} else {
				req.Header.Set("Content-Type", "application/octet-stream")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, tc.status, body)
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			for _, not := range append(tc.excludes, "hunter2") {
				if strings.Contains(body, not) {
					t.Errorf("body has %q", not)
				}
			}
			if tc.body != nil && tc.status == 200 && body != string(tc.body) {
				t.Errorf("echoed %d bytes, want %d", len(body), len(tc.body))
			}
			if got := resp.Header.Get("Location"); tc.location != "" && got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if tc.contentType != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
				t.Errorf("Content-Type %q, want %s", resp.Header.Get("Content-Type"), tc.contentType)
			}
		})
	}
}
