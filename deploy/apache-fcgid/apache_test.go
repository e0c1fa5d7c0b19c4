package apachefcgid_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
	"github.com/fcgi-hosting/fcgi/internal/sitecheck"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// apache is Apache + mod_fcgid set up as a shared host is: the site's
// directory allows .htaccess overrides, and the site is uploaded with
// htaccess as its .htaccess.
type apache struct {
	*apachetest.Apache
	t    *testing.T
	www  string
	base string
}

// startApache starts it with extra lines of server configuration, which a
// shared host's customer cannot set.
func startApache(t *testing.T, extra ...string) *apache {
	a := &apache{t: t}
	a.Apache = apachetest.Start(t, []string{"rewrite", "fcgid"}, `LogLevel warn fcgid:info
FcgidIPCDir "{{ROOT}}/run/fcgidsock"
FcgidProcessTableFile "{{ROOT}}/run/fcgid_shm"
`+strings.Join(extra, "\n"), func(x *apachetest.Apache) {
		a.Apache, a.www = x, x.WWW
		a.installSite("")
	})
	a.base = a.Base
	return a
}

func (a *apache) chown() { a.Chown() }

// installSite uploads the hello site into www/sub ("" for the root).
func (a *apache) installSite(sub string) {
	dir := filepath.Join(a.www, sub)
	os.MkdirAll(dir, 0o755)
	ht, err := os.ReadFile("htaccess")
	if err != nil {
		a.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".htaccess"), ht, 0o644)
	os.WriteFile(filepath.Join(dir, "mysite.env"), []byte("GREETING=v1\nSECRET_KEY=hunter2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "style.css"), []byte("body{color:red}"), 0o644)
	a.upload(dir, helloBin)
}

// upload writes the binary beside and renames it over, as FTP clients'
// "safe upload" does; the new file has a new inode.
func (a *apache) upload(dir, src string) {
	b, err := os.ReadFile(src)
	if err != nil {
		a.t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".mysite.fcgi.part")
	os.WriteFile(tmp, b, 0o755)
	uid, gid := apachetest.WWWData()
	os.Chown(tmp, uid, gid)
	if err := os.Rename(tmp, filepath.Join(dir, "mysite.fcgi")); err != nil {
		a.t.Fatal(err)
	}
}

func (a *apache) get(path string) (int, string, http.Header, error) {
	resp, err := http.Get(a.base + path)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

// TestApacheFcgid runs the site suite (internal/sitecheck) through Apache;
// hosting/emulate runs the same suite through the local emulation.
func TestApacheFcgid(t *testing.T) {
	a := startApache(t)
	sitecheck.Layout(t, a.www, helloBin, "htaccess")
	a.chown()
	sitecheck.Run(t, a.base)
}

// mod_fcgid holds up to FcgidOutputBufferSize (64 KiB) of a response
// before it passes it on, so streams need the host to set it to 0; then
// the lines arrive as written and a client that goes away is noticed.
func TestApacheFcgid_Streaming(t *testing.T) {
	a := startApache(t, "FcgidOutputBufferSize 0")
	a.chown()
	testenv.CheckClientAbort(t, a.base, filepath.Join(a.www, "mysite.log"), false)
}

// By default mod_fcgid holds the first line of the stream until the
// response ends, after the handler's 1.5 s pause; the local emulation does
// the same (hosting/emulate).
func TestApacheFcgid_OutputHeldByDefault(t *testing.T) {
	a := startApache(t)
	a.chown()
	if wait := testenv.FirstLineWait(t, a.base); wait < 1500*time.Millisecond {
		t.Errorf("the first line came %v after the request, before the handler's pause ended; mod_fcgid was expected to hold it", wait)
	}
}

// TestApacheFcgid_ReloadUnderLoad touches, re-uploads and edits the
// settings of the site while clients keep requesting through Apache. Each
// change waits until every process has taken the one before: the runtime
// re-executes whatever file is at its path, so a process still handing
// over when the upload lands would run the new file as the old process
// class, which mod_fcgid then leaves idle.
func TestApacheFcgid_ReloadUnderLoad(t *testing.T) {
	a := startApache(t)
	if code, body, _, err := a.get("/"); err != nil || code != 200 {
		t.Fatalf("%d %q %v", code, body, err)
	}
	load := testenv.StartLoad(testenv.GetWant(a.base+"/", func(body string) bool { return strings.HasPrefix(body, "v") }))
	bin, log := filepath.Join(a.www, "mysite.fcgi"), filepath.Join(a.www, "mysite.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("processes %v; mysite.log:\n%s", siteProcesses(a.www), b)
		}
	})
	load.Await(t, 20)
	touched := len(testenv.ReadLog(log))
	now := time.Now()
	os.Chtimes(bin, now, now)
	testenv.WaitReexecs(t, log, 1)
	testenv.WaitFor(t, "every process to run code started after the touch", func() bool {
		return allIn(siteProcesses(a.www), starters(log, touched))
	})

	oldClass, started := siteProcesses(a.www), starters(log, 0)
	a.upload(a.www, helloBin)
	// mod_fcgid starts the new file as a new process class; the processes
	// of the old one stop, and must not linger.
	testenv.WaitFor(t, "the replaced binary to serve", func() bool { return !allIn(starters(log, 0), started) })
	testenv.WaitFor(t, "the old binary's processes to exit", func() bool {
		return !slices.ContainsFunc(oldClass, func(pid int) bool { _, err := os.Stat("/proc/" + strconv.Itoa(pid)); return err == nil })
	})

	os.WriteFile(filepath.Join(a.www, "mysite.env"), []byte("GREETING=v2\n"), 0o644)
	testenv.WaitFor(t, "the new greeting", func() bool { _, body, _, _ := a.get("/"); return body == "v2\n" })
	load.Stop(t, "through Apache across a touch, an upload and a settings edit")
	t.Logf("processes before the upload %v, now %v", oldClass, siteProcesses(a.www))
}

// starters lists the PIDs with a "starting" line in the site log at path
// from its line from on.
func starters(path string, from int) []int {
	var pids []int
	for i, e := range testenv.ReadLog(path) {
		if e.Message == "starting" && i >= from {
			pids = append(pids, e.PID)
		}
	}
	return pids
}

// allIn reports whether every PID of pids is in set.
func allIn(pids, set []int) bool {
	return !slices.ContainsFunc(pids, func(pid int) bool { return !slices.Contains(set, pid) })
}

// siteProcesses lists the PIDs running a binary below dir.
func siteProcesses(dir string) []int {
	var ps []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, d := range dirs {
		if exe, err := os.Readlink(d); err == nil && strings.HasPrefix(exe, dir) {
			pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(d, "/proc/"), "/exe"))
			ps = append(ps, pid)
		}
	}
	return ps
}

// A graceful restart of Apache with a slow request in flight: mod_fcgid
// sends the process SIGTERM about 3 s later, again a second after, and
// SIGKILL at 8 s; the request, 6 s long, must still be answered, and the
// site serve on after.
func TestApacheFcgid_GracefulRestart(t *testing.T) {
	a := startApache(t)
	a.chown()
	if code, body, _, err := a.get("/"); err != nil || code != 200 {
		t.Fatalf("%d %q %v", code, body, err)
	}
	testenv.CheckSlowRequestAcross(t, a.base, filepath.Join(a.www, "mysite.log"), 6000, a.Graceful)
	if b, _ := os.ReadFile(filepath.Join(a.www, "mysite.log")); !bytes.Contains(b, []byte("already finishing requests in progress")) {
		t.Errorf("mod_fcgid's second SIGTERM was not seen:\n%s", b)
	}
}
