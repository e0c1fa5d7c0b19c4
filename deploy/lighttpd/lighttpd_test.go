package lighttpd_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(filepath.Join(site, "static"), 0o755)
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(site, "mysite.fcgi"), b, 0o755)
	os.WriteFile(filepath.Join(site, "mysite.env"), []byte(env), 0o644)
	os.WriteFile(filepath.Join(site, "static", "style.css"), []byte("body{}"), 0o644)
	tmpl, err := os.ReadFile("mysite.conf")
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
	testenv.CheckHelloSite(t, s.base, `prefix: ""`, "mode: fastcgi", "SERVER_SOFTWARE=lighttpd/")
	testenv.CheckStreaming(t, s.base)
	testenv.CheckClientAbort(t, s.base, filepath.Join(s.site, "mysite.log"), false)
	// lighttpd does not start processes on demand: IDLE_TIMEOUT must not
	// take the site down.
	time.Sleep(1500 * time.Millisecond)
	if code, _, err := get(s.base, "/"); code != 200 || err != nil {
		t.Errorf("after IDLE_TIMEOUT: %d %v", code, err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.site, "mysite.log")); !strings.Contains(string(b), "IDLE_TIMEOUT ignored") {
		t.Errorf("no log line saying IDLE_TIMEOUT is ignored under lighttpd:\n%s", b)
	}
}

// TestLighttpd_ReloadUnderLoad touches and re-uploads the binary while
// clients keep requesting: lighttpd must never see the backend go away.
func TestLighttpd_ReloadUnderLoad(t *testing.T) {
	s := startLighttpd(t, "GREETING=v1\n")
	if code, _, err := get(s.base, "/"); code != 200 || err != nil {
		t.Fatalf("%d %v", code, err)
	}
	load := testenv.StartLoad(testenv.GetWant(s.base+"/", func(body string) bool { return strings.HasPrefix(body, "v") }))
	log := func() string { b, _ := os.ReadFile(filepath.Join(s.site, "mysite.log")); return string(b) }
	bin := filepath.Join(s.site, "mysite.fcgi")
	time.Sleep(200 * time.Millisecond)
	now := time.Now()
	os.Chtimes(bin, now, now)
	testenv.WaitFor(t, "a hand-over after touch", func() bool { return strings.Count(log(), "re-executing in place") >= 1 })
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(bin+".part", b, 0o755)
	os.Rename(bin+".part", bin)
	testenv.WaitFor(t, "a hand-over after the upload", func() bool { return strings.Count(log(), "re-executing in place") >= 2 })
	os.WriteFile(filepath.Join(s.site, "mysite.env"), []byte("GREETING=v2\n"), 0o644)
	testenv.WaitFor(t, "the new greeting", func() bool { _, body, _ := get(s.base, "/"); return body == "v2\n" })
	load.Stop(t, "through lighttpd across a touch, an upload and a settings edit")
}

// A graceful restart of lighttpd (SIGUSR1) with a slow request in flight:
// the request is answered (lighttpd lets it finish, then stops the site
// with SIGTERM and starts it again), and the site serves on after.
func TestLighttpd_GracefulRestart(t *testing.T) {
	s := startLighttpd(t, "GREETING=v1\n")
	testenv.WaitUp(t, s.base+"/")
	type answer struct {
		code int
		body string
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		code, body, err := get(s.base, "/slow?ms=3000")
		slow <- answer{code, body, err}
	}()
	time.Sleep(300 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGUSR1)
	if r := <-slow; r.err != nil || r.code != 200 || r.body != "slept 3000 ms\n" {
		t.Errorf("the request in flight: %d %q %v; want 200", r.code, r.body, r.err)
	}
	testenv.WaitUp(t, s.base+"/")
	if b, _ := os.ReadFile(filepath.Join(s.site, "mysite.log")); strings.Count(string(b), `"message":"starting"`) != 2 {
		t.Errorf("lighttpd's restart did not start the site anew:\n%s", b)
	}
}
