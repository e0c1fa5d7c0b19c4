package apachefcgid_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// htaccess-authorizer added to the site's .htaccess: mod_fcgid asks the
// site's binary before it serves /private/ or /static/private/. A 200
// passes SITE_USER on; a denial is mod_fcgid's own 401.
func TestApacheFcgid_Authorizer(t *testing.T) {
	a := startApache(t, "LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so\nLoadModule setenvif_module /usr/lib/apache2/modules/mod_setenvif.so")
	extra, err := os.ReadFile("htaccess-authorizer")
	if err != nil {
		t.Fatal(err)
	}
	ht, _ := os.ReadFile(filepath.Join(a.www, ".htaccess"))
	extra = []byte(strings.Replace(string(extra), "/home/user/public_html/mysite.fcgi", filepath.Join(a.www, "mysite.fcgi"), 1))
	os.WriteFile(filepath.Join(a.www, ".htaccess"), append(ht, extra...), 0o644)
	os.WriteFile(filepath.Join(a.www, "mysite.env"), []byte("GREETING=v1\nPRIVATE_PASSWORD="+testenv.PrivatePassword+"\n"), 0o644)
	os.MkdirAll(filepath.Join(a.www, "static", "private"), 0o755)
	os.WriteFile(filepath.Join(a.www, "static", "private", "note.txt"), []byte(testenv.PrivateNote), 0o644)
	a.chown()

	testenv.CheckGuarded(t, a.base, []testenv.Guarded{
		{Name: "page without credentials", Path: "/private/page", Status: 401, Body: "Unauthorized"},
		{Name: "page with a wrong password", Path: "/private/page", Password: "guess", Status: 401, Body: "Unauthorized"},
		{Name: "page with the password", Path: "/private/page", Password: testenv.PrivatePassword, Status: 200, Body: `private page /private/page for "meg"`},
		{Name: "page by an escaped path, without credentials", Path: "/%70rivate/page", Status: 401, Body: "Unauthorized"},
		{Name: "file without credentials", Path: "/static/private/note.txt", Status: 401, Body: "Unauthorized"},
		{Name: "file with the password", Path: "/static/private/note.txt", Password: testenv.PrivatePassword, Status: 200, Body: testenv.PrivateNote},
		{Name: "unguarded", Path: "/", Status: 200, Body: "v1\n"},
	})
	// One process serves both roles: mod_fcgid started the binary once.
	log, _ := os.ReadFile(filepath.Join(a.www, "mysite.log"))
	if n := strings.Count(string(log), `"message":"starting"`); n != 1 {
		t.Errorf("the binary started %d times, want once:\n%s", n, log)
	}
}
