package differential_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// server is a deploy template on its real server in front of the site:
// start returns its base URL. The site is at the root, or (subsites)
// there is one at each of several prefixes.
type server struct {
	name     string
	start    func(t *testing.T) string
	subsites []site
}

// site is a site on a server: its name (the explanations' key) and the
// prefix it lives below.
type site struct{ name, prefix string }

func (s server) sites() []site {
	if s.subsites != nil {
		return s.subsites
	}
	return []site{{s.name, ""}}
}

var servers = []server{
	{"apache-fcgid", startApacheFcgid, []site{{"apache-fcgid", ""}, {"apache-fcgid-sub", "/sub"}}},
	{"apache-proxy-fcgi", startProxyFcgi, nil},
	{"nginx", startNginx("../nginx/mysite.conf", "unix:/srv/mysite/mysite.sock", "fcgi"), nil},
	{"lighttpd", startLighttpd, nil},
	{"caddy", startCaddy, nil},
	{"h2o", startH2O, nil},
	{"nginx-scgi", startNginx("../protocols/nginx-scgi.conf", "127.0.0.1:4000", "scgi"), nil},
	{"nginx-http", startNginx("../protocols/nginx-http.conf", "127.0.0.1:8080", "http"), nil},
	{"lighttpd-scgi", startLighttpdSCGI, nil},
	{"apache-scgi", startApacheProxy("apache-scgi.conf", "127.0.0.1:4000", "scgi", "proxy_scgi"), nil},
	{"apache-ajp", startApacheProxy("apache-ajp.conf", "127.0.0.1:8009", "ajp", "proxy_ajp"), nil},
	{"apache-http", startApacheProxy("apache-http.conf", "127.0.0.1:8080", "http", "proxy_http", "headers"), nil},
}

// siteEnv is the site's settings file: none needed.
const siteEnv = "# the differential test's httpbin site\n"

// staticFiles makes, in dir, the files the explanations' proofs request
// from the web server itself, and the probe (probeBin) as a CGI script
// (probe.cgi) and a FastCGI program (probe.fcgi), with the .htaccess that
// has Apache run them.
func staticFiles(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	probe, err := os.ReadFile(probeBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name    string
		content []byte
		mode    os.FileMode
	}{
		{"probe.txt", []byte("static\n"), 0o644},
		{"probe.cgi", probe, 0o755},
		{"probe.fcgi", probe, 0o755},
		{".htaccess", []byte(probeHtaccess), 0o644},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.content, f.mode); err != nil {
			t.Fatal(err)
		}
	}
}

// probeHtaccess has Apache run the probe as a CGI script (mod_cgid) and
// a FastCGI program (mod_fcgid, where loaded).
const probeHtaccess = `Options +ExecCGI
AddHandler cgi-script .cgi
<IfModule fcgid_module>
AddHandler fcgid-script .fcgi
</IfModule>
`

// startApacheFcgid uploads the site with the deploy .htaccess at the
// DocumentRoot and in its subdirectory sub/, both served by one Apache
// (mod_rewrite, mod_fcgid).
func startApacheFcgid(t *testing.T) string {
	ht, err := os.ReadFile("../apache-fcgid/htaccess")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(siteBin)
	if err != nil {
		t.Fatal(err)
	}
	a := apachetest.Start(t, []string{"rewrite", "fcgid", "cgid"}, `FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
`, func(a *apachetest.Apache) {
		for _, dir := range []string{a.WWW, filepath.Join(a.WWW, "sub")} {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, ".htaccess"), ht, 0o644)
			os.WriteFile(filepath.Join(dir, "mysite.env"), []byte(siteEnv), 0o644)
			os.WriteFile(filepath.Join(dir, "mysite.fcgi"), bin, 0o755)
			staticFiles(t, filepath.Join(dir, "static"))
		}
	})
	return a.Base
}

// appDir is a directory for an external site that Apache's workers
// (www-data) can reach the socket in.
func appDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "differential-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	return dir
}

func readTemplate(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// adapt replaces old with new in the template s, failing if it is gone.
func adapt(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the template no longer has %q, which the test adapts", old)
	}
	return strings.ReplaceAll(s, old, new)
}

func startProxyFcgi(t *testing.T) string {
	dir := appDir(t)
	sock := filepath.Join(dir, "mysite.sock")
	conf := adapt(t, readTemplate(t, "../apache-proxy-fcgi/mysite.conf"), "unix:/run/mysite/mysite.sock|", "unix:"+sock+"|")
	testenv.StartExternal(t, siteBin, dir, siteEnv, "unix:"+sock, "-socket-mode", "0666")
	probe := filepath.Join(dir, "probe.sock")
	startProbe(t, "unix:"+probe, "fcgi")
	conf = probeProxyPass(t, conf, `"unix:`+probe+`|fcgi://probe/"`)
	a := apachetest.Start(t, []string{"proxy", "proxy_fcgi", "cgid"}, conf, func(a *apachetest.Apache) {
		staticFiles(t, filepath.Join(a.WWW, "static"))
	})
	return a.Base
}

// startNginx runs nginx with template, the site run with -protocol
// protocol on what the template names addr.
func startNginx(template, addr, protocol string) func(t *testing.T) string {
	return func(t *testing.T) string {
		dir, root := appDir(t), t.TempDir()
		listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		if protocol == "fcgi" {
			listen = "unix:" + filepath.Join(dir, "mysite.sock")
		}
		site := adapt(t, readTemplate(t, template), addr, listen)
		site = adapt(t, site, "/srv/mysite/public", root)
		staticFiles(t, filepath.Join(root, "static"))
		testenv.StartExternal(t, siteBin, dir, siteEnv, listen, "-protocol", protocol)
		switch protocol { // the standard library has no SCGI server for the probe
		case "fcgi":
			probe := filepath.Join(dir, "probe.sock")
			startProbe(t, "unix:"+probe, "fcgi")
			site = probeLocation(t, site, "fastcgi_pass unix:"+probe+";")
		case "http":
			probe := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			startProbe(t, probe, "http")
			site = probeLocation(t, site, "proxy_pass http://"+probe+";")
		}
		return testenv.StartNginx(t, site)
	}
}

// startApacheProxy runs Apache with the protocol template and modules in
// front of the site run with -protocol protocol.
func startApacheProxy(template, addr, protocol string, modules ...string) func(t *testing.T) string {
	return func(t *testing.T) string {
		listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		conf := adapt(t, readTemplate(t, "../protocols/"+template), addr, listen)
		testenv.StartExternal(t, siteBin, t.TempDir(), siteEnv, listen, "-protocol", protocol)
		if protocol == "http" {
			probe := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			startProbe(t, probe, "http")
			conf = probeProxyPass(t, conf, "http://"+probe+"/probe/")
		}
		a := apachetest.Start(t, append([]string{"proxy", "cgid"}, modules...), conf, func(a *apachetest.Apache) {
			staticFiles(t, filepath.Join(a.WWW, "static"))
		})
		return a.Base
	}
}

// startLighttpd has lighttpd spawn the site (bin-path) with mysite.conf.
func startLighttpd(t *testing.T) string {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	staticFiles(t, filepath.Join(site, "static"))
	b, err := os.ReadFile(siteBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(site, "mysite.fcgi"), b, 0o755)
	os.WriteFile(filepath.Join(site, "mysite.env"), []byte(siteEnv), 0o644)
	conf := adapt(t, readTemplate(t, "../lighttpd/mysite.conf"), "/run/mysite/mysite.sock", filepath.Join(dir, "mysite.sock"))
	conf = adapt(t, conf, "/srv/mysite/mysite.fcgi", filepath.Join(site, "mysite.fcgi"))
	base, _ := testenv.StartLighttpd(t, site, conf+lighttpdCGI, filepath.Join(site, "mysite.log"))
	return base
}

// startLighttpdSCGI runs lighttpd with lighttpd-scgi.conf in front of the
// site run with -protocol scgi.
func startLighttpdSCGI(t *testing.T) string {
	port := testenv.FreePort(t)
	root := t.TempDir()
	staticFiles(t, filepath.Join(root, "static"))
	conf := adapt(t, readTemplate(t, "../protocols/lighttpd-scgi.conf"), "=> 4000", fmt.Sprintf("=> %d", port))
	testenv.StartExternal(t, siteBin, t.TempDir(), siteEnv, fmt.Sprintf("127.0.0.1:%d", port), "-protocol", "scgi")
	base, _ := testenv.StartLighttpd(t, root, conf+lighttpdCGI)
	return base
}

func startCaddy(t *testing.T) string {
	dir, root := t.TempDir(), t.TempDir()
	sock := filepath.Join(dir, "mysite.sock")
	staticFiles(t, filepath.Join(root, "static"))
	testenv.StartExternal(t, siteBin, dir, siteEnv, "unix:"+sock)
	probe := filepath.Join(dir, "probe.sock")
	startProbe(t, "unix:"+probe, "fcgi")
	conf := probeHandle(t, readTemplate(t, "../caddy/Caddyfile"), "unix//run/mysite/mysite.sock", "unix/"+probe)
	template := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(template, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return testenv.StartCaddy(t, template, sock, root)
}

// startH2O has H2O spawn the site (fastcgi.spawn) with h2o.conf.
func startH2O(t *testing.T) string {
	site, static := t.TempDir(), t.TempDir()
	staticFiles(t, static)
	b, err := os.ReadFile(siteBin)
	if err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(site, "mysite.fcgi")
	os.WriteFile(binary, b, 0o755)
	os.WriteFile(filepath.Join(site, "mysite.env"), []byte(siteEnv), 0o644)
	conf := probePath(t, readTemplate(t, "../h2o/h2o.conf"), "/srv/mysite/mysite.fcgi", filepath.Join(static, "probe.fcgi"))
	template := filepath.Join(site, "h2o.conf")
	if err := os.WriteFile(template, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return testenv.StartH2O(t, template, static, binary)
}
