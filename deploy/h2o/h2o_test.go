package h2o_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

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
	base := testenv.StartH2O(t, "h2o.conf", static, binary)
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
	load.Await(t, 20) // served by the new code, first beside the old
	testenv.WaitReexecs(t, filepath.Join(site, "mysite.log"), 1)
	load.Await(t, 20)
	load.Stop(t, "through H2O across a settings edit")
	pid, _ := strconv.Atoi(strings.TrimPrefix(before, "pid: "))
	testenv.WaitFor(t, "the process H2O started to serve alone again, re-executed in place", func() bool {
		return pid > 0 && len(testenv.Children(pid)) == 0 && testenv.SitePID(base) == before
	})
	logged, _ := os.ReadFile(filepath.Join(site, "mysite.log"))
	// Nor does it restart what exited: an idle site must not exit.
	if !slices.ContainsFunc(bytes.Split(logged, []byte("\n")), func(line []byte) bool {
		return bytes.Contains(line, []byte(`"spawner":"h2o"`)) && bytes.Contains(line, []byte("IDLE_TIMEOUT ignored"))
	}) {
		t.Errorf("the log does not show IDLE_TIMEOUT ignored under H2O:\n%s", logged)
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
	base := testenv.StartH2O(t, "subdirectory.conf", static, binary)
	testenv.WaitUp(t, base+"/app/")
	testenv.CheckHelloSite(t, base+"/app", "mode: fastcgi", "PATH_INFO=/app/info\n")
}
