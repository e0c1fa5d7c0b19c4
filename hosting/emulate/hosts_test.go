package emulate

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/sitecheck"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// refusedNames are requests and Apache's answers to them, with its stock
// <FilesMatch "^\.ht"> and the shipped .htaccess: .htaccess and .htpasswd
// are refused in every directory, and the .htaccess's FilesMatch refuses
// names whether they exist or not, as authorization comes before the
// rewrite that would hand them to the application. Names after the
// program, or below a directory that does not exist, are PATH_INFO, which
// no FilesMatch sees.
var refusedNames = []struct {
	path   string
	status int
}{
	{"/.htaccess", 403},
	{"/app/.htaccess", 403},
	{"/.htpasswd", 403},
	{"/app/.htpasswd", 403},
	{"/.htpasswd/x", 403},
	{"/.htnothing", 403},
	{"/app/.ht.sqlite", 403},
	{"/config.env", 403},
	{"/app/backup.sqlite3", 403},
	{"/style.css", 200},
	{"/mysite.fcgi/.htaccess", 404},
	{"/nodir/.htaccess", 404},
}

// layoutRefused lays out the hello site (sitecheck.Layout) with a
// .htpasswd beside each .htaccess.
func layoutRefused(t *testing.T, dir string) {
	sitecheck.Layout(t, dir, helloBin, "../../deploy/apache-fcgid/htaccess")
	for _, sub := range []string{"", "app"} {
		os.WriteFile(filepath.Join(dir, sub, ".htpasswd"), []byte("admin:$apr1$hunter2\n"), 0o644)
	}
}

func TestEmulator_RefusedNames(t *testing.T) {
	dir := t.TempDir()
	layoutRefused(t, dir)
	e := &Emulator{Root: dir}
	t.Cleanup(e.Close)
	for _, tc := range refusedNames {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost"+tc.path, nil))
		if rec.Code != tc.status || strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "RewriteRule") {
			t.Errorf("GET %s: %d, want %d:\n%s", tc.path, rec.Code, tc.status, rec.Body)
		}
	}
}

// TestApache_RefusedNames proves refusedNames on Apache + mod_fcgid with
// the stock rule of Debian's apache2.conf.
func TestApache_RefusedNames(t *testing.T) {
	a := apachetest.Start(t, []string{"rewrite", "fcgid"}, `FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
<FilesMatch "^\.ht">
    Require all denied
</FilesMatch>
`, func(a *apachetest.Apache) { layoutRefused(t, a.WWW) })
	for _, tc := range refusedNames {
		if code, body, err := testenv.Get(a.Base + tc.path); code != tc.status || strings.Contains(body, "hunter2") {
			t.Errorf("GET %s: %d %v, want %d:\n%s", tc.path, code, err, tc.status, body)
		}
	}
}

// The emulation answers only requests that name this machine in a way a
// page of another site cannot, through DNS rebinding: loopback names and
// IP addresses, with any port, and the names it is told to allow.
func TestEmulator_Hosts(t *testing.T) {
	dir := t.TempDir()
	sitecheck.Layout(t, dir, helloBin, "../../deploy/apache-fcgid/htaccess")
	for _, tc := range []struct {
		host       string
		allow      []string
		listenName string
		status     int
	}{
		{host: "localhost:8000", status: 200},
		{host: "127.0.0.1:8000", status: 200},
		{host: "[::1]:8000", status: 200},
		{host: "[::1]", status: 200},
		{host: "LocalHost", status: 200},
		{host: "localhost.:8000", status: 200},
		{host: "guestbook.localhost:8000", status: 200},
		{host: "192.168.1.5:8000", status: 200},
		{host: "", status: 200},
		{host: "devbox.lan:8000", listenName: "devbox.lan", status: 200},
		{host: "evil.example:8000", status: 403},
		{host: "localhost.evil.example", status: 403},
		{host: "127.0.0.1.nip.io:8000", status: 403},
		{host: "evil.example", allow: []string{"evil.example"}, status: 200},
		{host: "a.b.example.test:8000", allow: []string{".example.test"}, status: 200},
		{host: "example.test", allow: []string{".example.test"}, status: 200},
		{host: "badexample.test", allow: []string{".example.test"}, status: 403},
	} {
		t.Run(tc.host, func(t *testing.T) {
			log := &syncWriter{}
			e := &Emulator{Root: dir, AllowHosts: tc.allow, Log: log, listenName: tc.listenName}
			t.Cleanup(e.Close)
			for _, path := range []string{"/style.css", "/info"} {
				req := httptest.NewRequest("GET", "/", nil)
				req.URL.Path, req.RequestURI, req.Host = path, path, tc.host
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != tc.status {
					t.Errorf("GET %s: %d, want %d:\n%s", path, rec.Code, tc.status, rec.Body)
				}
			}
			name, _, _ := strings.Cut(tc.host, ":")
			if hint := "FCGI_LOCAL_ALLOW_HOSTS=" + name; tc.status == 403 && !strings.Contains(log.String(), hint) {
				t.Errorf("the log does not say %s:\n%s", hint, log.String())
			}
		})
	}
}
