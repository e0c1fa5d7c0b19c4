package apacheauthnzfcgi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// mysite.conf with Debian's Apache and mod_authnz_fcgi: one external
// process serves the site and authorizes /private/ and /static/private/.
func TestApacheAuthnzFcgi(t *testing.T) {
	tmpl, err := os.ReadFile("mysite.conf")
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	conf := strings.ReplaceAll(string(tmpl), "127.0.0.1:9000", listen)
	testenv.StartExternal(t, helloBin, t.TempDir(), "GREETING=v1\nPRIVATE_PASSWORD="+testenv.PrivatePassword+"\n", listen)
	a := apachetest.Start(t, []string{"proxy", "proxy_fcgi", "authnz_fcgi", "authn_core", "authz_user"}, conf, func(a *apachetest.Apache) {
		os.MkdirAll(filepath.Join(a.WWW, "static", "private"), 0o755)
		os.WriteFile(filepath.Join(a.WWW, "static", "private", "note.txt"), []byte(testenv.PrivateNote), 0o644)
	})
	testenv.WaitUp(t, a.Base+"/")
	testenv.CheckAuthorizer(t, a.Base, "/private/page", "/static/private/note.txt")
}
