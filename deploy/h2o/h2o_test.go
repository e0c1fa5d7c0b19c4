package h2o_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// startH2O runs H2O with template, its marked lines pointed at a free
// port, static and the binary, and stops it (by PID) at the end of the test.
func startH2O(t *testing.T, template, static, binary string) string {
	bin := testenv.Require(t, "h2o", "h2o")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(
		"  port: 80\n", fmt.Sprintf("  host: 127.0.0.1\n  port: %d\n", port),
		"/srv/mysite/static", static,
		"/srv/mysite/mysite.fcgi", binary,
	).Replace(string(tmpl))
	if !strings.Contains(conf, binary) || !strings.Contains(conf, static) || strings.Contains(conf, "port: 80\n") {
		t.Fatal(template + "'s marked lines changed; update the test")
	}
	conf = fmt.Sprintf("pid-file: %s/h2o.pid\nerror-log: %s/error.log\n", dir, dir) + conf
	if os.Geteuid() == 0 {
		conf = "user: root\n" + conf // else H2O drops to nobody, who cannot write the log
	}
	path := filepath.Join(dir, "h2o.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-c", path)
	testenv.StartProcess(t, cmd, filepath.Join(dir, "error.log"))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func TestH2O(t *testing.T) {
	site, static := t.TempDir(), t.TempDir()
	binary := filepath.Join(site, "mysite.fcgi")
	b, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(binary, b, 0o755)
	envPath := filepath.Join(site, "mysite.env")
	os.WriteFile(envPath, []byte("GREETING=v1\nDEBUG=true\nRELOAD_POLL=200ms\n"), 0o644)
	os.WriteFile(filepath.Join(static, "style.css"), []byte("body{}"), 0o644)
	base := startH2O(t, "h2o.conf", static, binary)
	testenv.WaitUp(t, base+"/")

	testenv.CheckHelloSite(t, base, "mode: fastcgi", "SERVER_SOFTWARE=h2o/")
	testenv.CheckClientAbort(t, base, filepath.Join(site, "mysite.log"), false)

	// H2O never respawns what it spawned: an edit of the settings file must
	// re-execute the process in place, under load, losing nothing.
	before := testenv.SitePID(base)
	var sawV2 atomic.Bool
	load := testenv.StartLoad(testenv.GetWant(base+"/", func(body string) bool {
		if body == "v2\n" {
			sawV2.Store(true)
		}
		return body == "v1\n" || body == "v2\n"
	}))
	load.Await(t, 20)
	os.WriteFile(envPath, []byte("GREETING=v2\nDEBUG=true\nRELOAD_POLL=200ms\n"), 0o644)
	testenv.WaitFor(t, "the settings edit to take effect", sawV2.Load)
	load.Await(t, 20) // served by the new code
	load.Stop(t, "through H2O across a settings edit")
	if after := testenv.SitePID(base); before == "" || after != before {
		t.Errorf("the process was not re-executed in place: %q before, %q after", before, after)
	}
	logged, _ := os.ReadFile(filepath.Join(site, "mysite.log"))
	if !bytes.Contains(logged, []byte("re-executing in place")) {
		t.Errorf("the log does not show the re-exec:\n%s", logged)
	}
}

// The hello site in /app/ with subdirectory.conf and FORCE_SCRIPT_NAME: the
// same suite, its links, cookies and redirects under /app.
func TestH2O_Subdirectory(t *testing.T) {
	site, static := t.TempDir(), t.TempDir()
	b, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(site, "mysite.fcgi")
	os.WriteFile(binary, b, 0o755)
	os.WriteFile(filepath.Join(site, "mysite.env"), []byte("GREETING=v1\nDEBUG=true\nFORCE_SCRIPT_NAME=/app\n"), 0o644)
	os.WriteFile(filepath.Join(static, "style.css"), []byte("body{}"), 0o644)
	base := startH2O(t, "subdirectory.conf", static, binary)
	testenv.WaitUp(t, base+"/app/")
	testenv.CheckHelloSite(t, base+"/app", "mode: fastcgi", "PATH_INFO=/app/info\n")
}
