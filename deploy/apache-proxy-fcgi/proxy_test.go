package apacheproxyfcgi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// templateAndAppDir reads template and makes a directory for the site
// that Apache's workers (www-data) can reach the socket in.
func templateAndAppDir(t *testing.T, template string) (string, string) {
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	appDir, err := os.MkdirTemp("", "proxy-app-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(appDir) })
	os.Chmod(appDir, 0o755)
	return string(tmpl), appDir
}

func TestApacheProxyFcgi(t *testing.T) {
	tmpl, appDir := templateAndAppDir(t, "mysite.conf")
	for _, tc := range []struct{ name, listen, target string }{
		{"unix socket", "unix:" + filepath.Join(appDir, "mysite.sock"), "unix:" + filepath.Join(appDir, "mysite.sock") + "|fcgi://mysite/"},
		{"tcp", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := tmpl
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
			testenv.CheckHelloSite(t, a.Base, "mode: external")
			testenv.CheckClientAbort(t, a.Base, filepath.Join(appDir, "mysite.log"), false)

			// A restart by SIGHUP under load loses nothing.
			log := testenv.ReloadUnderLoad(t, "mod_proxy_fcgi", a.Base+"/", "v1\n", app, filepath.Join(appDir, "mysite.log"))
			// enablereuse pools connections: the hand-overs passed some on.
			if !regexp.MustCompile(`"connections":[1-9]`).Match(log) {
				t.Errorf("no pooled connection was passed on:\n%s", log)
			}
		})
	}
}

// The hello site in /app/ with subdirectory.conf and FORCE_SCRIPT_NAME: the
// same suite, its links, cookies and redirects under /app.
func TestApacheProxyFcgi_Subdirectory(t *testing.T) {
	tmpl, appDir := templateAndAppDir(t, "subdirectory.conf")
	sock := filepath.Join(appDir, "mysite.sock")
	conf := strings.Replace(tmpl, "unix:/run/mysite/mysite.sock|", "unix:"+sock+"|", 1)
	testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\nFORCE_SCRIPT_NAME=/app\n", "unix:"+sock, "-socket-mode", "0666")
	a := apachetest.Start(t, []string{"proxy", "proxy_fcgi"}, conf, func(a *apachetest.Apache) {
		os.MkdirAll(filepath.Join(a.WWW, "app", "static"), 0o755)
		os.WriteFile(filepath.Join(a.WWW, "app", "static", "style.css"), []byte("body{}"), 0o644)
	})
	testenv.WaitUp(t, a.Base+"/app/")
	testenv.CheckHelloSite(t, a.Base+"/app", "mode: external")
}
