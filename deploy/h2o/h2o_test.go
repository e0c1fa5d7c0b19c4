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
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

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
	helloBin, cleanup := testenv.MustBuild("../../examples/hello")
	defer cleanup()
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
	testenv.CheckStreaming(t, base)
	testenv.CheckClientAbort(t, base, filepath.Join(site, "mysite.log"), false)

	// H2O never respawns what it spawned: an edit of the settings file must
	// re-execute the process in place, under load, losing nothing.
	_, before, _ := testenv.Get(base + "/info")
	var sawV2 atomic.Bool
	load := testenv.StartLoad(testenv.GetWant(base+"/", func(body string) bool {
		if body == "v2\n" {
			sawV2.Store(true)
		}
		return body == "v1\n" || body == "v2\n"
	}))
	time.Sleep(300 * time.Millisecond)
	os.WriteFile(envPath, []byte("GREETING=v2\nDEBUG=true\nRELOAD_POLL=200ms\n"), 0o644)
	for deadline := time.Now().Add(15 * time.Second); !sawV2.Load() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	load.Stop(t, "through H2O across a settings edit")
	if !sawV2.Load() {
		t.Fatal("the settings edit never took effect")
	}
	_, after, _ := testenv.Get(base + "/info")
	if pid := pidLine(before); pid == "" || pid != pidLine(after) {
		t.Errorf("the process was not re-executed in place: %q before, %q after", pid, pidLine(after))
	}
	logged, _ := os.ReadFile(filepath.Join(site, "mysite.log"))
	if !bytes.Contains(logged, []byte("re-executing in place")) {
		t.Errorf("the log does not show the re-exec:\n%s", logged)
	}
}

func pidLine(info string) string {
	for line := range strings.Lines(info) {
		if strings.HasPrefix(line, "pid: ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// The hello site in /app/ with subdirectory.conf and FORCE_SCRIPT_NAME: the
// same suite, its links, cookies and redirects under /app.
func TestH2O_Subdirectory(t *testing.T) {
	helloBin, cleanup := testenv.MustBuild("../../examples/hello")
	defer cleanup()
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
