package lighttpd_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

type server struct {
	site string
	base string
	cmd  *exec.Cmd // lighttpd
}

// startLighttpd runs lighttpd in the foreground with mysite.conf, its
// marked lines pointed at a fresh site, and stops it by PID at the end.
func startLighttpd(t *testing.T, env string) *server {
	return startLighttpdWith(t, "mysite.conf", "", env)
}

// startLighttpdWith does it with template, the site's static files in
// the document root's subdirectory sub.
func startLighttpdWith(t *testing.T, template, sub, env string) *server {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(site, sub, "static"), 0o755)
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(site, "mysite.fcgi"), b, 0o755)
	os.WriteFile(filepath.Join(site, "mysite.env"), []byte(env), 0o644)
	os.WriteFile(filepath.Join(site, sub, "static", "style.css"), []byte("body{}"), 0o644)
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(
		"/run/mysite/mysite.sock", filepath.Join(dir, "mysite.sock"),
		"/srv/mysite/mysite.fcgi", filepath.Join(site, "mysite.fcgi"),
	).Replace(string(tmpl))
	base, cmd := testenv.StartLighttpd(t, site, conf, filepath.Join(site, "mysite.log"))
	return &server{site: site, base: base, cmd: cmd}
}

func get(base, path string) (int, string, error) {
	resp, err := http.Get(base + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestLighttpd(t *testing.T) {
	s := startLighttpd(t, "GREETING=v1\nDEBUG=true\nIDLE_TIMEOUT=1s\n")
	testenv.CheckHelloSite(t, s.base, "mode: fastcgi", "SERVER_SOFTWARE=lighttpd/")
	testenv.CheckClientAbort(t, s.base, filepath.Join(s.site, "mysite.log"), false)
	// lighttpd does not start processes on demand: IDLE_TIMEOUT must not
	// take the site down. The same process must answer after it was idle
	// for twice as long: the sleep is the idle time under test.
	before := testenv.SitePID(s.base)
	time.Sleep(2 * time.Second)
	if after := testenv.SitePID(s.base); before == "" || after != before {
		t.Errorf("after IDLE_TIMEOUT: %q, %q before", after, before)
	}
	if b, _ := os.ReadFile(filepath.Join(s.site, "mysite.log")); !strings.Contains(string(b), "IDLE_TIMEOUT ignored") {
		t.Errorf("no log line saying IDLE_TIMEOUT is ignored under lighttpd:\n%s", b)
	}
}

// TestLighttpd_ReloadUnderLoad touches, re-uploads and stages the binary while
// clients keep requesting: lighttpd must never see the backend go away.
// Each change comes once the new code of the one before has started (and
// noted the binary and settings it runs with).
func TestLighttpd_ReloadUnderLoad(t *testing.T) {
	s := startLighttpd(t, "GREETING=v1\n")
	if code, _, err := get(s.base, "/"); code != 200 || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	load := testenv.StartLoad(testenv.GetWant(s.base+"/", func(body string) bool { return strings.HasPrefix(body, "v") }))
	log := filepath.Join(s.site, "mysite.log")
	bin := filepath.Join(s.site, "mysite.fcgi")
	load.Await(t, 20)
	now := time.Now()
	os.Chtimes(bin, now, now)
	testenv.WaitReexecs(t, log, 1)
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(bin+".part", b, 0o755)
	os.Rename(bin+".part", bin)
	testenv.WaitReexecs(t, log, 2)
	os.WriteFile(bin+".new", b, 0o644) // staged, as FTP users upload
	testenv.WaitReexecs(t, log, 3)
	if _, err := os.Stat(bin + ".new"); !os.IsNotExist(err) {
		t.Errorf("mysite.fcgi.new not adopted: %v", err)
	}
	os.WriteFile(filepath.Join(s.site, "mysite.env"), []byte("GREETING=v2\n"), 0o644)
	testenv.WaitFor(t, "the new greeting", func() bool { _, body, _ := get(s.base, "/"); return body == "v2\n" })
	load.Stop(t, "through lighttpd across a touch, an upload, a staged upload and a settings edit")
}

// A graceful restart of lighttpd (SIGUSR1) with a slow request in flight:
// the request is answered (lighttpd lets it finish, then stops the site
// with SIGTERM and starts it again), and the site serves on after.
func TestLighttpd_GracefulRestart(t *testing.T) {
	s := startLighttpd(t, "GREETING=v1\n")
	testenv.WaitUp(t, s.base+"/")
	testenv.CheckSlowRequestAcross(t, s.base, filepath.Join(s.site, "mysite.log"), 3000, func() error { return s.cmd.Process.Signal(syscall.SIGUSR1) })
	if b, _ := os.ReadFile(filepath.Join(s.site, "mysite.log")); strings.Count(string(b), `"message":"starting"`) != 2 {
		t.Errorf("lighttpd's restart did not start the site anew:\n%s", b)
	}
}

// Two sites in one lighttpd, told apart by host name: one spawned with
// bin-path, one an external server on a unix socket. Each serves its own
// pages and static files, and reloading one under load on both disturbs
// neither.
func TestLighttpd_SeveralSites(t *testing.T) {
	dir := t.TempDir()
	sites := map[string]string{"one": filepath.Join(dir, "one"), "two": filepath.Join(dir, "two")}
	for name, site := range sites {
		os.MkdirAll(filepath.Join(site, "public", "static"), 0o755)
		os.WriteFile(filepath.Join(site, "public", "static", "style.css"), []byte("/* "+name+" */"), 0o644)
	}
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(sites["one"], "mysite.fcgi"), b, 0o755)
	os.WriteFile(filepath.Join(sites["one"], "mysite.env"), []byte("GREETING=site one\n"), 0o644)
	sock := filepath.Join(sites["two"], "mysite.sock")
	two := testenv.StartExternal(t, helloBin, sites["two"], "GREETING=site two\n", "unix:"+sock)

	tmpl, err := os.ReadFile("several-sites.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(
		"/srv/one", sites["one"], "/run/one/mysite.sock", filepath.Join(dir, "one.sock"),
		"/srv/two", sites["two"], "/run/two/mysite.sock", sock,
	).Replace(string(tmpl))
	base, _ := testenv.StartLighttpd(t, dir, conf, filepath.Join(sites["one"], "mysite.log"), filepath.Join(sites["two"], "mysite.log"))

	getHost := func(host, path string) (int, string, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	testenv.WaitFor(t, "site two through lighttpd", func() bool { code, _, _ := getHost("two.example.com", "/"); return code == 200 })
	for _, tc := range []struct{ host, path, want string }{
		{"one.example.com", "/", "site one\n"},
		{"one.example.com", "/info", "mode: fastcgi"},
		{"one.example.com", "/static/style.css", "/* one */"},
		{"two.example.com", "/", "site two\n"},
		{"two.example.com", "/info", "mode: external"},
		{"two.example.com", "/static/style.css", "/* two */"},
	} {
		if code, body, err := getHost(tc.host, tc.path); err != nil || code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("%s%s: %d %q %v; want %q", tc.host, tc.path, code, body, err, tc.want)
		}
	}

	var n atomic.Int64
	load := testenv.StartLoad(func() error {
		host, want := "one.example.com", "site one\n"
		if n.Add(1)%2 == 0 {
			host, want = "two.example.com", "site two\n"
		}
		if code, body, err := getHost(host, "/"); err != nil || code != 200 || body != want {
			return fmt.Errorf("%s: %d %q %v", host, code, body, err)
		}
		return nil
	})
	load.Await(t, 20) // both sites answered: running, watching, catching signals
	now := time.Now()
	os.Chtimes(filepath.Join(sites["one"], "mysite.fcgi"), now, now)
	two.Process.Signal(syscall.SIGHUP)
	for _, site := range sites {
		testenv.WaitReexecs(t, filepath.Join(site, "mysite.log"), 1)
	}
	load.Await(t, 20)
	load.Stop(t, "to two sites in one lighttpd across a reload of each")
}

// The hello site in /app/ with subdirectory.conf: the same suite, its
// links, cookies and redirects under /app.
func TestLighttpd_Subdirectory(t *testing.T) {
	s := startLighttpdWith(t, "subdirectory.conf", "app", "GREETING=v1\nDEBUG=true\n")
	testenv.WaitUp(t, s.base+"/app/")
	testenv.CheckHelloSite(t, s.base+"/app", "mode: fastcgi", "SCRIPT_NAME=/app\n", "PATH_INFO=/info\n")
}

// An upload while a long request runs, lighttpd spawning one process
// (max-procs 1): new requests are answered by the new binary while the
// long one is still in the old code, which then answers it in full; no
// request of 4 clients fails, and lighttpd is left with one process, the
// one it spawned.
func TestLighttpd_UploadBesideALongRequest(t *testing.T) {
	v2 := testenv.BuildStamped(t, "../../examples/hello", "v2")
	s := startLighttpd(t, "GREETING=v1\n")
	testenv.WaitUp(t, s.base+"/")
	pid := testenv.SitePID(s.base)
	log := filepath.Join(s.site, "mysite.log")
	// Far longer than the new code takes to answer, so that it answers
	// first: the ordering is what is checked, never a time.
	slow := testenv.StartSlow(t, s.base, log, 20000)
	load := testenv.StartLoad(testenv.GetWant(s.base+"/", func(body string) bool { return body == "v1\n" }))
	load.Await(t, 20)
	b, _ := os.ReadFile(v2)
	bin := filepath.Join(s.site, "mysite.fcgi")
	os.WriteFile(bin+".part", b, 0o755)
	uploaded := time.Now()
	os.Rename(bin+".part", bin)
	testenv.WaitFor(t, "an answer from the new binary", func() bool { return testenv.SiteVersion(s.base) == "v2" || slow.Ended() })
	t.Logf("first answer of the new binary %v after the upload, a long request in progress", time.Since(uploaded).Round(time.Millisecond))
	if slow.Ended() {
		t.Fatal("the long request ended before the new binary answered")
	}
	load.Await(t, 20)
	slow.CheckAnswered(t)
	testenv.WaitReexecs(t, log, 1)
	load.Await(t, 20)
	load.Stop(t, "through lighttpd across an upload beside a long request")
	sitePID, _ := strconv.Atoi(strings.TrimPrefix(pid, "pid: "))
	testenv.WaitFor(t, "the stand-in to finish and be reaped", func() bool { return len(testenv.Children(sitePID)) == 0 })
	if kids := testenv.Children(s.cmd.Process.Pid); len(kids) != 1 || kids[0] != sitePID {
		t.Errorf("lighttpd's children: %v, want only %d, the site it spawned", kids, sitePID)
	}
	if after, v := testenv.SitePID(s.base), testenv.SiteVersion(s.base); after != pid || v != "v2" {
		t.Errorf("after the upload: %q version %q, want %q version v2", after, v, pid)
	}
}
