package hosting

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/hosting/internal/settings"
	"github.com/fcgi-hosting/fcgi/responder"
)

// authorizerFor serves rt's engine on a unix socket and returns a client.
func authorizerFor(t *testing.T, rt *Runtime) *responder.Client {
	t.Helper()
	srv := rt.newServer()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := responder.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// What Apache mod_authnz_fcgi sends: the request's variables without
// SCRIPT_NAME and PATH_INFO.
func authorizerParams(uri string, extra ...string) map[string]string {
	p := map[string]string{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": uri,
		"HTTP_HOST": "example.com", "FCGI_ROLE": "AUTHORIZER", "HTTP_REFERER": "http://example.com/", "HTTP_USER_AGENT": "Firefox"}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// The Authorizer gets the runtime's care that fits its role: the URL
// whole, its answers as it wrote them, a panic or bad settings denying,
// and never the status page in its place.
func TestRuntime_Authorizer(t *testing.T) {
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Case") {
		case "panic":
			panic("authorizer broke")
		case "ok":
			responder.SetVariable(w, "SITE_USER", "meg")
			responder.SetVariable(w, "SITE_PATH", r.URL.Path)
			w.Header().Set("Location", "/login") // no redirect in this role: left as it is
			return
		case "missing":
			http.NotFound(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="site"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "log in to see "+r.URL.Path)
	})
	s := settings.Defaults()
	s.ForceScriptName, s.ForceScriptNameSet = "/app", true
	s.StatusPath, s.StatusToken = "/app/status", "0123456789abcdef"
	s.SlowRequest = time.Minute
	newRuntime := func(t *testing.T, settingsErr error) *Runtime {
		return &Runtime{Handler: http.NotFoundHandler(), Authorizer: auth, dir: t.TempDir(), settings: s,
			settingsErr: settingsErr, log: zerolog.Nop(), mode: modeExternal}
	}
	for _, tc := range []struct {
		name        string
		settingsErr error
		params      map[string]string
		status      int
		headers     map[string]string
		body        string // a part of it
	}{
		{"200 passes the variables", nil, authorizerParams("/app/private/a.txt?x=1", "HTTP_X_CASE", "ok"), 200,
			map[string]string{"Variable-SITE_USER": "meg", "Variable-SITE_PATH": "/app/private/a.txt", "Location": "/login"}, ""},
		{"401 as written", nil, authorizerParams("/app/private/a.txt"), 401,
			map[string]string{"Www-Authenticate": `Basic realm="site"`}, "log in to see /app/private/a.txt"},
		{"404 as written", nil, authorizerParams("/app/private/gone", "HTTP_X_CASE", "missing"), 404, nil, "404 page not found"},
		{"panic denies", nil, authorizerParams("/app/private/a.txt", "HTTP_X_CASE", "panic"), 500, nil, "Something went wrong"},
		{"status page path asks the authorizer", nil, authorizerParams("/app/status", "HTTP_AUTHORIZATION", "Bearer 0123456789abcdef"), 401,
			nil, "log in to see /app/status"},
		{"bad settings deny", errors.New("bad settings"), authorizerParams("/app/private/a.txt", "HTTP_X_CASE", "ok"), 500,
			nil, "Something went wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := authorizerFor(t, newRuntime(t, tc.settingsErr))
			resp, err := c.Do(context.Background(), &responder.ClientRequest{Role: responder.RoleAuthorizer, Params: tc.params})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Errorf("%d %q; want %d with %q", resp.StatusCode, b, tc.status, tc.body)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("header %s: %q, want %q (all: %v)", k, got, v, resp.Header)
				}
			}
		})
	}
}

// Without an Authorizer the role is refused: a site's 200 never
// authorizes by accident.
func TestRuntime_NoAuthorizer(t *testing.T) {
	rt := &Runtime{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), dir: t.TempDir(),
		settings: settings.Defaults(), log: zerolog.Nop(), mode: modeExternal}
	c := authorizerFor(t, rt)
	resp, err := c.Do(context.Background(), &responder.ClientRequest{Role: responder.RoleAuthorizer, Params: authorizerParams("/private/")})
	if err == nil {
		t.Errorf("authorizer request answered %d without an Authorizer", resp.StatusCode)
	}
}
