package apacheproxyfcgi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) {
	bin, cleanup := testenv.MustBuild("../../examples/hello")
	helloBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func TestApacheProxyFcgi(t *testing.T) {
	tmpl, err := os.ReadFile("mysite.conf")
	if err != nil {
		t.Fatal(err)
	}
	// Apache's workers (www-data) must reach the socket.
	appDir, err := os.MkdirTemp("", "proxy-app-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(appDir)
	os.Chmod(appDir, 0o755)
	for _, tc := range []struct{ name, listen, target string }{
		{"unix socket", "unix:" + filepath.Join(appDir, "mysite.sock"), "unix:" + filepath.Join(appDir, "mysite.sock") + "|fcgi://mysite/"},
		{"tcp", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := string(tmpl)
			if tc.target != "" {
				conf = strings.Replace(conf, "unix:/run/mysite/mysite.sock|fcgi://mysite/", tc.target, 1)
			} else {
				conf = strings.Replace(conf, `"unix:/run/mysite/mysite.sock|fcgi://mysite/"`, `"fcgi://`+tc.listen+`/"`, 1)
			}
			app := testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", tc.listen, "-socket-mode", "0666")
			a := apachetest.Start(t, []string{"proxy", "proxy_fcgi"}, conf, func(a *apachetest.Apache) {
				os.MkdirAll(filepath.Join(a.WWW, "static"), 0o755)
				os.WriteFile(filepath.Join(a.WWW, "static", "style.css"), []byte("body{}"), 0o644)
			})
			testenv.WaitUp(t, a.Base+"/")
			for _, c := range []struct {
				path   string
				status int
				want   []string
			}{
				{"/", 200, []string{"v1\n"}},
				{"/info?x=1", 200, []string{`prefix: ""`, "path: /info", "mode: external", "QUERY_STRING=x=1"}},
				{"/sub/path", 404, []string{"Not Found"}},
				{"/static/style.css", 200, []string{"body{}"}},
				{"/stream?n=2", 200, []string{"line 1\nline 2\n"}},
			} {
				code, body, err := testenv.Get(a.Base + c.path)
				if err != nil || code != c.status {
					t.Errorf("%s: %d %v, want %d", c.path, code, err, c.status)
					continue
				}
				for _, w := range c.want {
					if !strings.Contains(body, w) {
						t.Errorf("%s lacks %q:\n%s", c.path, w, body)
					}
				}
			}
			body := bytes.Repeat([]byte("0123456789"), 10<<10)
			resp, err := http.Post(a.Base+"/echo", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, body) {
				t.Errorf("POST 100 KiB echoed %d bytes", len(got))
			}

			// A restart by SIGHUP under load loses nothing.
			log := testenv.ReloadUnderLoad(t, "mod_proxy_fcgi", a.Base+"/", "v1\n", app, filepath.Join(appDir, "mysite.log"))
			// enablereuse pools connections: the hand-overs passed some on.
			if !regexp.MustCompile(`"connections":[1-9]`).Match(log) {
				t.Errorf("no pooled connection was passed on:\n%s", log)
			}
		})
	}
}
