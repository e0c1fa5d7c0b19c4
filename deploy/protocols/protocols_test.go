package protocols_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// Each template, on the real server, in front of the hello site run with
// -protocol: the whole site suite, then a reload under load.
func TestTemplates(t *testing.T) {
	for _, tc := range []struct {
		name, protocol, template, defaultAddr string
		start                                 func(t *testing.T, conf string) string
		watchesClient                         bool // passes on a client gone while it waits
	}{
		{"nginx scgi_pass", "scgi", "nginx-scgi.conf", "127.0.0.1:4000", startNginx, true},
		{"Apache mod_proxy_scgi", "scgi", "apache-scgi.conf", "127.0.0.1:4000", startApache("proxy_scgi"), false},
		{"Apache mod_proxy_ajp", "ajp", "apache-ajp.conf", "127.0.0.1:8009", startApache("proxy_ajp"), false},
		{"lighttpd mod_scgi", "scgi", "lighttpd-scgi.conf", "4000", startLighttpd, false},
		{"nginx proxy_pass", "http", "nginx-http.conf", "127.0.0.1:8080", startNginx, true},
		{"Apache mod_proxy_http", "http", "apache-http.conf", "127.0.0.1:8080", startApache("proxy_http", "headers"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := os.ReadFile(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			port := testenv.FreePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			conf := strings.ReplaceAll(string(tmpl), tc.defaultAddr, addr)
			if !strings.Contains(tc.defaultAddr, ":") {
				conf = strings.ReplaceAll(string(tmpl), "=> "+tc.defaultAddr, fmt.Sprintf("=> %d", port))
			}
			if conf == string(tmpl) {
				t.Fatalf("%s no longer has the address the test adapts", tc.template)
			}
			appDir := t.TempDir()
			app := testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", addr, "-protocol", tc.protocol)
			base := tc.start(t, conf)
			testenv.WaitUp(t, base+"/")
			testenv.CheckHelloSite(t, base, "mode: external")
			if tc.protocol == "http" {
				checkForwardedNotSpoofed(t, base)
			}
			testenv.CheckClientAbort(t, base, filepath.Join(appDir, "mysite.log"), tc.watchesClient)
			testenv.ReloadUnderLoad(t, tc.name, base+"/", "v1\n", app, filepath.Join(appDir, "mysite.log"))
		})
	}
}

// checkForwardedNotSpoofed: a client's own X-Forwarded-For and
// X-Forwarded-Proto are not believed; the proxy's entries are.
func checkForwardedNotSpoofed(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/info", nil)
	req.Header.Set("X-Forwarded-For", "10.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "REMOTE_ADDR=127.0.0.1\n") || strings.Contains(string(body), "HTTPS=on") {
		t.Errorf("a client's X-Forwarded-For: 10.6.6.6 and X-Forwarded-Proto: https; want REMOTE_ADDR=127.0.0.1 and no HTTPS=on:\n%s", body)
	}
}

// staticFiles makes the files the web server serves itself under root.
func staticFiles(t *testing.T, root string) {
	os.MkdirAll(filepath.Join(root, "static"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "static", "style.css"), []byte("body{}"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func startApache(modules ...string) func(t *testing.T, conf string) string {
	return func(t *testing.T, conf string) string {
		a := apachetest.Start(t, append([]string{"proxy"}, modules...), conf, func(a *apachetest.Apache) { staticFiles(t, a.WWW) })
		return a.Base
	}
}

func startNginx(t *testing.T, site string) string {
	root := filepath.Join(t.TempDir(), "public")
	staticFiles(t, root)
	return testenv.StartNginx(t, strings.ReplaceAll(site, "/srv/mysite/public", root))
}

func startLighttpd(t *testing.T, site string) string {
	root := filepath.Join(t.TempDir(), "public")
	staticFiles(t, root)
	base, _ := testenv.StartLighttpd(t, root, site)
	return base
}
