package passenger_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// serverConf is what the host sets once for the server: Debian's
// passenger.conf (PassengerRoot), Passenger's instance directory under the
// test's ServerRoot (root's alone: Passenger runs as root and warns about a
// directory others may change), no calls home (CI has no network), and restart.txt
// looked at on every request instead of every 10 s, which only makes the
// test wait less.
const serverConf = `Include /etc/apache2/mods-available/passenger.conf
PassengerInstanceRegistryDir "{{ROOT}}/passenger"
PassengerDisableAnonymousTelemetry on
PassengerDisableSecurityUpdateCheck on
PassengerStatThrottleRate 0
`

// template reads a configuration template with its app root put at dir.
func template(t *testing.T, name, dir string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "/home/me/mysite", dir)
}

// install lays out an app root as its owner uploads it: the binary, its
// settings, public/static/style.css, an empty tmp/, and extra files.
func install(t *testing.T, dir string, extra map[string][]byte) {
	t.Helper()
	exe, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"mysite.fcgi": exe, "mysite.env": []byte("GREETING=v1\nDEBUG=true\n"),
		"public/static/style.css": []byte("body{}")}
	for name, b := range extra {
		files[name] = b
	}
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if name == "mysite.fcgi" {
			mode = 0o755
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// The hello site as a Passenger generic app: at the root with mysite.conf
// and Passengerfile.json, under /app with subdirectory.conf, and restarted
// under load by tmp/restart.txt and by a new binary.
func TestPassenger(t *testing.T) {
	var root string
	v2 := testenv.BuildStampedAsync(t, "../../examples/hello", "v2") // uploaded in the last subtest
	passengerfile, err := os.ReadFile("Passengerfile.json")
	if err != nil {
		t.Fatal(err)
	}
	a := apachetest.Start(t, []string{"alias", "passenger"},
		serverConf+template(t, "mysite.conf", "{{ROOT}}/www/mysite")+template(t, "subdirectory.conf", "{{ROOT}}/www/subapp"),
		func(a *apachetest.Apache) {
			os.MkdirAll(filepath.Join(a.Root, "passenger"), 0o755)
			root = filepath.Join(a.WWW, "mysite")
			install(t, root, map[string][]byte{"Passengerfile.json": passengerfile})
			install(t, filepath.Join(a.WWW, "subapp"), nil)
		}) // then given to www-data, whom Passenger runs each app as: the owner of its app root

	logPath := filepath.Join(root, "mysite.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("mysite.log:\n%s", b)
		}
	})

	t.Run("root", func(t *testing.T) {
		testenv.WaitUp(t, a.Base+"/")
		testenv.CheckHelloSite(t, a.Base, "mode: passenger", "REMOTE_ADDR=127.0.0.1")
		testenv.CheckClientAbort(t, a.Base, logPath, false)
		// Passenger passes a client's X-Forwarded-* on as they came.
		req, _ := http.NewRequest("GET", a.Base+"/info", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(info, []byte("REMOTE_ADDR=127.0.0.1\n")) || bytes.Contains(info, []byte("HTTPS=on")) {
			t.Errorf("forged X-Forwarded-* believed:\n%s", info)
		}
	})
	t.Run("sub-URI", func(t *testing.T) {
		testenv.WaitUp(t, a.Base+"/app/")
		testenv.CheckHelloSite(t, a.Base+"/app", "mode: passenger", "request_uri: /app/info")
	})

	greeting := testenv.GetWant(a.Base+"/", func(b string) bool { return b == "v1\n" })
	t.Run("restart.txt under load", func(t *testing.T) {
		old := testenv.SitePID(a.Base)
		load := testenv.StartLoad(greeting)
		load.Await(t, 20)
		// Passenger starts a new process on the next request, sends the old
		// ones no more, and stops them (SIGTERM) once their requests are done.
		if err := os.WriteFile(filepath.Join(root, "tmp", "restart.txt"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "Passenger to stop the process that served before ("+old+")", func() bool {
			return testenv.Logged(logPath, func(e testenv.LogEntry) bool {
				return e.Message == "stopped" && "pid: "+strconv.Itoa(e.PID) == old
			})
		})
		load.Await(t, 20)
		load.Stop(t, "through Passenger across a restart by tmp/restart.txt")
		if now := testenv.SitePID(a.Base); now == old || now == "" {
			t.Errorf("served by %q after the restart, before by %q", now, old)
		}
	})
	t.Run("binary replaced under load", func(t *testing.T) {
		b, err := os.ReadFile(v2(t))
		if err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(logPath)
		load := testenv.StartLoad(greeting)
		load.Await(t, 20)
		// Uploaded beside and renamed over, by the site's owner.
		part := filepath.Join(root, "mysite.fcgi.part")
		os.WriteFile(part, b, 0o755)
		uid, gid := apachetest.WWWData()
		os.Chown(part, uid, gid)
		if err := os.Rename(part, filepath.Join(root, "mysite.fcgi")); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "the new binary to answer", func() bool { return testenv.SiteVersion(a.Base) == "v2" })
		load.Await(t, 20)
		// In place: the same process and port, which Passenger never saw
		// change; the new code answers beside the old until then.
		testenv.WaitFor(t, "the re-execution in place", func() bool {
			log, _ := os.ReadFile(logPath)
			return bytes.Contains(log[len(before):], []byte(`"message":"re-executing in place"`))
		})
		load.Await(t, 20)
		load.Stop(t, "through Passenger across the binary replaced")
	})
}
