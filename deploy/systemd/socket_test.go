package systemd_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/heldtest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

// activation is one start of the service by systemd-socket-activate.
type activation struct {
	cmd     *exec.Cmd
	out     string // its output and, once executed, the site's
	exited  chan struct{}
	waitErr error
}

// startActivated starts argv the way systemd starts a socket-activated
// service: Debian's systemd-socket-activate (activate) gets the socket
// (ln, which the test keeps open as PID 1 does) as LISTEN_FDS, waits for a
// connection on it and then executes argv in its own place, with
// LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES=fdname. It returns once the
// activator waits; the service is stopped by PID at the end of the test.
func startActivated(t *testing.T, activate string, ln *os.File, fdname, dir string, argv []string) *activation {
	t.Helper()
	// LISTEN_PID must be the activator's PID: the shell's, which exec keeps.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" "$@"`,
		activate, "--fdname=" + fdname}, argv...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_TARGET=console") // its lines to stderr, not to a journal
	cmd.ExtraFiles = []*os.File{ln}                              // fd 3, SD_LISTEN_FDS_START
	a := &activation{cmd: cmd, out: filepath.Join(t.TempDir(), "out"), exited: make(chan struct{})}
	out, err := os.Create(a.out)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.waitErr = cmd.Wait(); close(a.exited) }()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-a.exited:
			case <-time.After(testenv.Patience):
				cmd.Process.Kill()
				<-a.exited
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(a.out)
			t.Logf("systemd-socket-activate and site output:\n%s", b)
		}
	})
	testenv.WaitFor(t, "systemd-socket-activate to wait on the socket", func() bool {
		b, _ := os.ReadFile(a.out)
		return bytes.Contains(b, []byte("Listening on "))
	})
	return a
}

// comm is the name the kernel gives process pid: which program it runs.
func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// sitePID is the PID the hello site on sock says it runs as.
func sitePID(t *testing.T, sock string) int {
	t.Helper()
	info, err := getPath(sock, "/info")
	if err != nil {
		t.Fatalf("/info: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "pid: "); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	t.Fatalf("/info without a pid line:\n%s", info)
	return 0
}

// TestSocketActivation runs mysite.service's ExecStart behind mysite.socket
// the way systemd does, the test holding the socket as PID 1 would:
// requests sent before the first start are queued and answered, a reload
// under load loses none and keeps the PID, and a stop leaves the socket
// listening, so that a connection made then is answered by the next start.
func TestSocketActivation(t *testing.T) {
	// The reload below must come from ExecReload alone, not from the
	// process noticing the edit first.
	site := newActivatedSite(t, "GREETING=v1\nRELOAD_POLL=0\n")
	socket, svc, sock, envPath, logPath := site.socket, site.svc, site.sock, site.envPath, site.logPath

	// 1. The first start comes with the first connection; requests sent
	// while nothing serves yet are queued, then answered.
	a := site.start()
	pid := a.cmd.Process.Pid
	if c := comm(pid); c == "mysite.fcgi" || testenv.Logged(logPath, func(e testenv.LogEntry) bool { return e.Message == "starting" }) {
		t.Fatalf("the site started (%s) before any connection: no activation to test", c)
	}
	answers := make(chan string, 4)
	for range 4 {
		go func() { answers <- answer(get(sock)) }()
	}
	for range 4 {
		awaitAnswer(t, answers, "a request sent before the start", "v1\n")
	}
	if c := comm(pid); c != "mysite.fcgi" {
		t.Errorf("process %d runs %q, want mysite.fcgi, executed in the activator's place as systemd's PID stays", pid, c)
	}
	if got := sitePID(t, sock); got != pid {
		t.Errorf("the site runs as process %d, want %d, the one systemd started", got, pid)
	}
	logged, _ := os.ReadFile(logPath)
	served := `"listen":"` + sock + `","fdnames":["` + socket["FileDescriptorName"] + `"]`
	for _, want := range []string{served, `"message":"-listen ignored: serving the sockets systemd passed (socket activation)"`} {
		if !bytes.Contains(logged, []byte(want)) {
			t.Errorf("mysite.log lacks %s", want)
		}
	}

	// 2. systemctl reload under load: the new settings, same PID, nothing
	// lost, on the socket systemd passed.
	os.WriteFile(envPath, []byte("GREETING=v2\nRELOAD_POLL=0\n"), 0o644)
	load := testenv.StartLoad(func() error {
		if body, err := get(sock); err != nil || (body != "v1\n" && body != "v2\n") {
			return fmt.Errorf("%q %v, want v1 or v2", body, err)
		}
		return nil
	})
	load.Await(t, 20)
	site.reload(t, pid)
	testenv.WaitReexecs(t, logPath, 1)
	testenv.WaitFor(t, "ExecReload to bring in the new settings", func() bool { body, err := get(sock); return err == nil && body == "v2\n" })
	load.Await(t, 20)
	load.Stop(t, "on the activated socket across systemctl reload")
	if got := sitePID(t, sock); got != pid {
		t.Errorf("after the reload the site runs as process %d, want %d: systemd would lose track of it", got, pid)
	}

	// 3. systemctl stop: a clean exit, the socket left to systemd.
	timeout, err := strconv.Atoi(svc["TimeoutStopSec"])
	if svc["KillSignal"] != "SIGTERM" || err != nil {
		t.Fatalf("KillSignal=%s TimeoutStopSec=%s", svc["KillSignal"], svc["TimeoutStopSec"])
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
		if a.waitErr != nil {
			t.Fatalf("stop: %v, want exit status 0 (Restart=on-failure would restart it)", a.waitErr)
		}
	case <-time.After(time.Duration(timeout) * time.Second):
		t.Fatalf("still running %ds after SIGTERM: systemd would SIGKILL it", timeout)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the socket file is gone after stop (%v): the web server could not reach the next start", err)
	}
	// A connection while the service is stopped is taken by the socket,
	// and its request answered by the start it triggers.
	c, err := responder.Dial("unix", sock)
	if err != nil {
		t.Fatalf("connecting while the service is stopped: %v, want the socket systemd keeps to take it", err)
	}
	asked := make(chan string, 1)
	go func() { asked <- answer(ask(c, "/")) }()
	site.start()
	awaitAnswer(t, asked, "the request sent while stopped, by the next start", "v2\n")
}

// activatedSite is mysite.service's site, with mysite.socket's socket
// listening as systemd keeps it, the test holding it as PID 1 would.
type activatedSite struct {
	socket, svc            map[string]string // the units' sections
	sock, envPath, logPath string
	start                  func() *activation // for the next connection
}

func newActivatedSite(t *testing.T, env string) *activatedSite {
	t.Helper()
	activate := testenv.Require(t, "systemd-socket-activate", "systemd")
	s := &activatedSite{socket: unitSection(t, "mysite.socket", "[Socket]"), svc: unit(t)}
	if a := s.socket["Accept"]; a != "no" {
		t.Fatalf("mysite.socket: Accept=%s, want no: one process serves every connection", a)
	}
	site, run := t.TempDir(), t.TempDir()
	paths := strings.NewReplacer("/srv/mysite", site, "/run/mysite", run)
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(site, "mysite.fcgi"), b, 0o755)
	s.envPath, s.logPath = filepath.Join(site, "mysite.env"), filepath.Join(site, "mysite.log")
	os.WriteFile(s.envPath, []byte(env), 0o644)
	// systemd's side of mysite.socket: it listens before the service runs.
	s.sock = paths.Replace(s.socket["ListenStream"])
	l, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ln, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	argv := strings.Fields(paths.Replace(s.svc["ExecStart"]))
	dir := paths.Replace(s.svc["WorkingDirectory"])
	s.start = func() *activation { return startActivated(t, activate, ln, s.socket["FileDescriptorName"], dir, argv) }
	return s
}

// reload runs ExecReload for the service's main process pid.
func (s *activatedSite) reload(t *testing.T, pid int) {
	t.Helper()
	reload := strings.Fields(strings.ReplaceAll(s.svc["ExecReload"], "$MAINPID", strconv.Itoa(pid)))
	if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecReload: %v %s", err, out)
	}
}

// answer is a request's body, or its error's text.
func answer(body string, err error) string {
	if err != nil {
		return err.Error()
	}
	return body
}

// awaitAnswer waits for the answer to a request sent in the background.
func awaitAnswer(t *testing.T, answers <-chan string, what, want string) {
	t.Helper()
	select {
	case body := <-answers:
		if body != want {
			t.Errorf("%s: %q, want %q", what, body, want)
		}
	case <-time.After(testenv.Patience):
		t.Fatalf("%s: not answered within %v", what, testenv.Patience)
	}
}

// systemctl reload while a long request runs: the new settings answer new
// requests while the old code still holds the long one, which it then
// finishes; no request of 4 clients fails, and the service is left with
// one process, the PID systemd tracks.
func TestSocketActivation_ReloadBesideALongRequest(t *testing.T) {
	site := newActivatedSite(t, "GREETING=v1\nRELOAD_POLL=0\n")
	a := site.start()
	pid := a.cmd.Process.Pid
	testenv.WaitFor(t, "the first start", func() bool { body, err := get(site.sock); return err == nil && body == "v1\n" })
	held := heldtest.HoldEcho(t, "unix", site.sock)
	load := testenv.StartLoad(func() error {
		if body, err := get(site.sock); err != nil || (body != "v1\n" && body != "v2\n") {
			return fmt.Errorf("%q %v, want v1 or v2", body, err)
		}
		return nil
	})
	load.Await(t, 20)
	os.WriteFile(site.envPath, []byte("GREETING=v2\nRELOAD_POLL=0\n"), 0o644)
	reloaded := time.Now()
	site.reload(t, pid)
	testenv.WaitFor(t, "an answer from the new code", func() bool { body, _ := get(site.sock); return body == "v2\n" || held.Ended() })
	t.Logf("first answer of the new code %v after systemctl reload, a long request in progress", time.Since(reloaded).Round(time.Millisecond))
	if held.Ended() {
		t.Fatal("the long request ended before the new code answered")
	}
	load.Await(t, 20)
	held.CheckReleased(t)
	testenv.WaitReexecs(t, site.logPath, 1)
	load.Await(t, 20)
	load.Stop(t, "on the activated socket across systemctl reload beside a long request")
	testenv.WaitFor(t, "the stand-in to finish and be reaped", func() bool { return len(testenv.Children(pid)) == 0 })
	if got := sitePID(t, site.sock); got != pid {
		t.Errorf("after the reload the site runs as process %d, want %d: systemd would lose track of it", got, pid)
	}
	if body, err := get(site.sock); body != "v2\n" {
		t.Errorf("after the reload: %q %v, want v2", body, err)
	}
}
