package apachefcgid_test

import (
	"io"
	"net/http"
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
	a := startApache(t, "LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so")
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

	for _, c := range []struct {
		name, path, password string
		status               int
		body                 string
	}{
		{"page without credentials", "/private/page", "", 401, "Unauthorized"},
		{"page with a wrong password", "/private/page", "guess", 401, "Unauthorized"},
		{"page with the password", "/private/page", testenv.PrivatePassword, 200, `private page /private/page for "meg"`},
		{"file without credentials", "/static/private/note.txt", "", 401, "Unauthorized"},
		{"file with the password", "/static/private/note.txt", testenv.PrivatePassword, 200, testenv.PrivateNote},
		{"unguarded", "/", "", 200, "v1\n"},
	} {
		req, _ := http.NewRequest("GET", a.base+c.path, nil)
		if c.password != "" {
			req.SetBasicAuth("meg", c.password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.body) {
			t.Errorf("%s: %s %d %q; want %d with %q", c.name, c.path, resp.StatusCode, b, c.status, c.body)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "Variable-") {
				t.Errorf("%s: the client got the authorizer's %s", c.name, k)
			}
		}
	}
	// One process serves both roles: mod_fcgid started the binary once.
	log, _ := os.ReadFile(filepath.Join(a.www, "mysite.log"))
	if n := strings.Count(string(log), `"message":"starting"`); n != 1 {
		t.Errorf("the binary started %d times, want once:\n%s", n, log)
	}
}
