package hosting_test

import (
	"context"
	"fmt"
	"io"
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

// helloBin is examples/hello, built once for the process-level tests.
var helloBin string

// hangBound bounds a wait for something that must happen: it only ends a
// hang, and is far beyond what a loaded machine takes, so that it never
// decides a result.
const hangBound = 30 * time.Second

func TestMain(m *testing.M) {
	bin, cleanup := testenv.MustBuild("../examples/hello")
	helloBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// site is a directory laid out like an upload: mysite.fcgi, mysite.env.
type site struct {
	t          *testing.T
	dir        string
	sock       string
	cmd        *exec.Cmd
	exit       chan error
	stderrPath string
	env        []string // besides PATH, for spawn
}

// stderr is what the process wrote to fd 2: the web server's error log.
func (s *site) stderr() string {
	b, _ := os.ReadFile(s.stderrPath)
	return string(b)
}

func newSite(t *testing.T, env string) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir}
	s.install(helloBin)
	if env != "" {
		s.writeEnv(env)
	}
	return s
}

func (s *site) bin() string { return filepath.Join(s.dir, "mysite.fcgi") }

// install puts a binary in place the way an FTP client with "safe upload"
// does: written beside, then renamed over (a new inode).
func (s *site) install(src string) {
	s.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		s.t.Fatal(err)
	}
	s.installBytes(b)
}

func (s *site) installBytes(b []byte) {
	s.t.Helper()
	tmp := s.bin() + ".part"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.bin()); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) writeEnv(content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "mysite.env"), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "mysite.log"))
	return string(b)
}

// spawn starts the binary as mod_fcgid does: a listening unix socket on
// fd 0, the site directory as working directory, PATH as the only
// variable; the spawner keeps no copy of the socket.
func (s *site) spawn() {
	s.t.Helper()
	s.spawnWith(exec.Command(s.bin()))
}

// spawnUnderApache is spawn with a parent named apache2, as the site sees
// mod_fcgid's process manager: it then hands over as under Apache, with no
// stand-in beside it. It returns the site's process; s.cmd is the parent,
// a copy of sh.
func (s *site) spawnUnderApache() *os.Process {
	s.t.Helper()
	sh := filepath.Join(s.t.TempDir(), "apache2")
	if err := exec.Command("cp", "/bin/sh", sh).Run(); err != nil {
		s.t.Fatal(err)
	}
	// Not the last command: sh waits for the site instead of becoming it.
	s.spawnWith(exec.Command(sh, "-c", `"$0"; exit $?`, s.bin()))
	var kids []int
	waitFor(s.t, "the site to start under apache2", func() bool { kids = testenv.Children(s.cmd.Process.Pid); return len(kids) == 1 })
	p, _ := os.FindProcess(kids[0])
	s.t.Cleanup(func() { p.Signal(syscall.SIGKILL) }) // before the parent's SIGTERM, which sh does not pass on
	return p
}

// spawnWith starts cmd as spawn does.
func (s *site) spawnWith(cmd *exec.Cmd) {
	s.t.Helper()
	s.sock = filepath.Join(s.t.TempDir(), strconv.Itoa(os.Getpid())+".0") // named as mod_fcgid names it
	l, err := net.Listen("unix", s.sock)
	if err != nil {
		s.t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	f, err := l.(*net.UnixListener).File()
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.cmd.Dir = s.dir
	s.cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, s.env...)
	s.cmd.Stdin = f
	stderr, err := os.Create(filepath.Join(s.t.TempDir(), "stderr"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.stderrPath = stderr.Name()
	s.cmd.Stderr = stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	f.Close()
	l.Close()
	stderr.Close()
	s.exit = make(chan error, 1)
	go func() { s.exit <- s.cmd.Wait() }()
	s.t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exit:
		case <-time.After(hangBound):
			s.t.Errorf("process did not stop %v after SIGTERM; its goroutines are in its stderr (SIGQUIT)", hangBound)
			s.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-s.exit:
			case <-time.After(5 * time.Second):
				s.cmd.Process.Kill()
			}
		}
		if e := s.stderr(); e != "" {
			s.t.Logf("stderr: %s", e)
		}
		if s.t.Failed() {
			s.t.Logf("mysite.log:\n%s", s.log())
		}
	})
}

// get requests path with a connection of its own, as mod_fcgid does.
func (s *site) get(path string) (int, string, error) { return s.getOn("unix", s.sock, path) }

func (s *site) getTCP(addr, path string) (int, string, error) { return s.getOn("tcp", addr, path) }

func (s *site) getOn(network, addr, path string) (int, string, error) {
	c, err := responder.Dial(network, addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hangBound)
	defer cancel()
	resp, err := c.Do(ctx, &responder.ClientRequest{Params: params("GET", path)})
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// params are the FastCGI parameters mod_fcgid sends for method and path.
func params(method, path string) map[string]string {
	uri, query, _ := strings.Cut(path, "?")
	return map[string]string{
		"REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": query, "SCRIPT_NAME": "/mysite.fcgi",
		"PATH_INFO": uri, "REDIRECT_URL": uri, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "Apache/2.4.71 (Debian) mod_fcgid/2.3.9",
		"HTTP_HOST": "example.com", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5000",
	}
}

// holdEcho starts a POST /echo whose body is still being sent, and returns
// once part of the echo has come back: the request is then in the
// handler, which waits for the rest of the body until release. release
// ends the body and returns the response.
func (s *site) holdEcho() (release func() (code int, body string, err error)) {
	s.t.Helper()
	return heldtest.HoldEcho(s.t, "unix", s.sock).Release
}

func (s *site) mustGet(path string) (int, string) {
	s.t.Helper()
	code, body, err := s.get(path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

// waitExit waits for the process to exit and returns how, leaving it for
// the cleanup; after names what should have ended it.
func (s *site) waitExit(after string) error {
	s.t.Helper()
	select {
	case err := <-s.exit:
		s.exit <- err
		return err
	case <-time.After(hangBound):
		s.t.Fatalf("still running %v after %s", hangBound, after)
		return nil
	}
}

// waitFor polls cond until it holds, failing t after hangBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangBound); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestSpawned_Serves(t *testing.T) {
	s := newSite(t, "GREETING=Hi from the env file\n")
	s.spawn()
	if code, body := s.mustGet("/"); code != 200 || body != "Hi from the env file\n" {
		t.Fatalf("%d %q", code, body)
	}
	code, body := s.mustGet("/info")
	if code != 200 || !strings.Contains(body, "mode: fastcgi") || !strings.Contains(body, `prefix: ""`) {
		t.Fatalf("%d %q", code, body)
	}
	if code, body := s.mustGet("/nope"); code != 404 || !strings.Contains(body, "Not Found") {
		t.Fatalf("%d %q", code, body)
	}
	if code, body := s.mustGet("/panic"); code != 500 || strings.Contains(body, "you asked for it") {
		t.Fatalf("panic page with DEBUG off: %d %q", code, body)
	}
	log := s.log()
	for _, want := range []string{`"mode":"fastcgi"`, `"message":"starting"`, "you asked for it"} {
		if !strings.Contains(log, want) {
			t.Errorf("mysite.log lacks %s", want)
		}
	}
}

func TestSpawned_DebugPage(t *testing.T) {
	s := newSite(t, "DEBUG=true\nSECRET_KEY=hunter2\n")
	os.WriteFile(filepath.Join(s.dir, "500.html"), []byte("<h1>our own 500</h1>"), 0o644)
	s.spawn()
	code, body := s.mustGet("/panic")
	if code != 500 || !strings.Contains(body, "you asked for it") || !strings.Contains(body, "SECRET_KEY") ||
		strings.Contains(body, "hunter2") {
		t.Fatalf("debug page: %d %q", code, body)
	}
	if strings.Contains(s.log(), "hunter2") {
		t.Error("a secret reached the log")
	}
}

func TestSpawned_ErrorPageFile(t *testing.T) {
	s := newSite(t, "")
	os.WriteFile(filepath.Join(s.dir, "500.html"), []byte("<h1>our own 500</h1>"), 0o644)
	s.spawn()
	if code, body := s.mustGet("/panic"); code != 500 || body != "<h1>our own 500</h1>" {
		t.Fatalf("%d %q", code, body)
	}
}

func TestSpawned_NotFoundPageFile(t *testing.T) {
	s := newSite(t, "")
	os.WriteFile(filepath.Join(s.dir, "404.html"), []byte("<h1>no such page here</h1>"), 0o644)
	s.spawn()
	if code, body := s.mustGet("/nope"); code != 404 || body != "<h1>no such page here</h1>" {
		t.Fatalf("%d %q", code, body)
	}
}

// A log file that cannot be written must not stop the site: the log goes
// to stderr (the web server's error log) with a line saying why.
func TestSpawned_LogUnwritable(t *testing.T) {
	s := newSite(t, "LOG_FILE=missing-dir/site.log\n")
	s.spawn()
	if code, _ := s.mustGet("/"); code != 200 {
		t.Fatalf("status %d", code)
	}
	if e := s.stderr(); !strings.Contains(e, "cannot write the log file; logging to stderr") || !strings.Contains(e, `"message":"starting"`) {
		t.Errorf("stderr lacks the reason and the log: %q", e)
	}
}

func TestSpawned_BrokenSettings(t *testing.T) {
	s := newSite(t, "GREETING=hi\nDEBUG=yes please\n")
	s.spawn()
	for range 3 {
		if code, body := s.mustGet("/"); code != 500 || !strings.Contains(body, "Internal Server Error") {
			t.Fatalf("%d %q", code, body)
		}
	}
	if !strings.Contains(s.log(), `mysite.env:2: DEBUG: want true or false, got \"yes please\"`) {
		t.Fatalf("log lacks the reason:\n%s", s.log())
	}
	// Fixing the file brings the site up without a restart.
	s.writeEnv("GREETING=fixed\nDEBUG=false\n")
	waitFor(t, "the fixed settings", func() bool { _, body, _ := s.get("/"); return body == "fixed\n" })
}

// TestSpawned_ReloadUnderLoad touches, re-uploads and edits the settings
// of a running site while clients keep requesting, and counts failures.
func TestSpawned_ReloadUnderLoad(t *testing.T) {
	s := newSite(t, "GREETING=v1\n")
	s.spawn()
	s.mustGet("/") // up, and watching
	pid := s.cmd.Process.Pid
	load := testenv.StartLoad(func() error {
		code, body, err := s.get("/")
		if err != nil || code != 200 || !strings.HasPrefix(body, "v") {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
	reexecs := func() int { return strings.Count(s.log(), "re-executing in place") }
	// The new code notes the binary it runs as it starts: an upload
	// before that would be no change to it.
	starts := func() int { return strings.Count(s.log(), `"message":"starting"`) }

	now := time.Now()
	os.Chtimes(s.bin(), now, now) // touch mysite.fcgi
	waitFor(t, "a reload after touch", func() bool { return reexecs() >= 1 && starts() >= 2 })

	s.install(helloBin) // re-upload: rename over, a new inode
	waitFor(t, "a reload after upload", func() bool { return reexecs() >= 2 && starts() >= 3 })

	s.writeEnv("GREETING=v2\n")
	waitFor(t, "the new greeting", func() bool { _, body, _ := s.get("/"); return body == "v2\n" })
	load.Stop(t, fmt.Sprintf("across %d hand-overs", reexecs()))
	if s.cmd.Process.Pid != pid || s.cmd.ProcessState != nil {
		t.Errorf("the process was replaced, not re-executed in place")
	}
}

func TestSpawned_HalfUpload(t *testing.T) {
	s := newSite(t, "")
	s.spawn()
	s.mustGet("/")
	full, err := os.ReadFile(helloBin)
	if err != nil {
		t.Fatal(err)
	}
	s.installBytes(full[:len(full)/2])
	waitFor(t, "the broken upload to be noticed", func() bool { return strings.Contains(s.log(), "cannot run") })
	if code, body := s.mustGet("/"); code != 200 || body != "Hello, world\n" {
		t.Fatalf("old code should keep serving: %d %q", code, body)
	}
	s.installBytes(full)
	waitFor(t, "the completed upload to be taken", func() bool { return strings.Contains(s.log(), "re-executing in place") })
	if code, _ := s.mustGet("/"); code != 200 {
		t.Fatalf("after the completed upload: %d", code)
	}
}

// Every MAX_REQUESTS requests the process hands over to fresh code. A
// stand-in serves some requests meanwhile, which count for neither.
func TestSpawned_MaxRequests(t *testing.T) {
	s := newSite(t, "MAX_REQUESTS=5\n")
	s.spawn()
	recycles := func() int { return strings.Count(s.log(), "MAX_REQUESTS reached") }
	for i := 0; recycles() < 4; i++ {
		if i == 2000 {
			t.Fatalf("%d recycles in %d requests", recycles(), i)
		}
		if code, _, err := s.get("/"); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
	}
}

// An idle process exits by itself, with status 0. No request is sent: one
// that the machine delays past IDLE_TIMEOUT would meet a process that
// rightly stopped listening.
func TestSpawned_IdleTimeout(t *testing.T) {
	s := newSite(t, "IDLE_TIMEOUT=300ms\n")
	s.spawn()
	if err := s.waitExit("IDLE_TIMEOUT=300ms"); err != nil {
		t.Fatalf("idle exit: %v, want status 0", err)
	}
	if !strings.Contains(s.log(), "IDLE_TIMEOUT") {
		t.Error("no log line for the idle exit")
	}
}

// Two signals to a process with a request in progress, the second sent
// once the log shows the first taken, and taken in turn before the request
// may end. None lets the grace period cut the request.
func TestSpawned_SignalsDuringARequest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		signals   [2]syscall.Signal
		taken     [2]string // the log line each is taken with
		completes bool      // the request is answered in full
		notLogged string
	}{
		// mod_fcgid sends SIGTERM twice on a graceful restart.
		{"a second SIGTERM changes nothing", [2]syscall.Signal{syscall.SIGTERM, syscall.SIGTERM},
			[2]string{"stopping: finishing requests in progress", "already finishing requests in progress"}, true, "after the grace period"},
		{"a second Ctrl-C cuts short", [2]syscall.Signal{syscall.SIGINT, syscall.SIGINT},
			[2]string{"stopping: finishing requests in progress", "interrupted again: closing at once"}, false, "after the grace period"},
		// A reload or a MAX_REQUESTS recycle under way: the stop is not
		// lost to the new code.
		{"SIGTERM during a hand-over stops", [2]syscall.Signal{syscall.SIGHUP, syscall.SIGTERM},
			[2]string{"handing over to the new code", "already finishing requests in progress"}, true, "re-executing in place"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, "")
			s.spawn()
			release := s.holdEcho()
			for i, sig := range tc.signals {
				s.cmd.Process.Signal(sig)
				waitFor(t, sig.String()+" to be taken", func() bool { return strings.Contains(s.log(), tc.taken[i]) })
			}
			// A request cut short ends with the process, before its body
			// does; one that completes holds the process until it ends.
			var exit error
			if !tc.completes {
				exit = s.waitExit(tc.signals[1].String())
			}
			code, body, err := release()
			if complete := err == nil && code == 200 && len(body) == 64<<10; complete != tc.completes {
				t.Errorf("request in progress: %d, %d bytes, %v; want it complete: %v", code, len(body), err, tc.completes)
			}
			if tc.completes {
				exit = s.waitExit(tc.signals[1].String())
			}
			if exit != nil {
				t.Errorf("exit: %v, want status 0", exit)
			}
			if strings.Contains(s.log(), tc.notLogged) {
				t.Errorf("log has %q", tc.notLogged)
			}
		})
	}
}

// mod_fcgid connects to a process as soon as its last request ended, even
// while it hands over; a stop then (SIGTERM: an idle kill, a graceful
// restart) closes the socket with that connection queued, unaccepted. The
// close would reset it, a 500 for the visitor: it is served instead.
func TestSpawned_StopServesQueuedConnections(t *testing.T) {
	s := newSite(t, "")
	p := s.spawnUnderApache()
	release := s.holdEcho()
	p.Signal(syscall.SIGHUP)
	waitFor(t, "the hand-over", func() bool {
		return strings.Contains(s.log(), "handing over to the new code: finishing requests in progress")
	})
	// Accepting has stopped: the connection waits in the socket's queue.
	c, err := responder.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type answer struct {
		code int
		body string
		err  error
	}
	queued := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangBound)
		defer cancel()
		resp, err := c.Do(ctx, &responder.ClientRequest{Params: params("GET", "/")})
		if err != nil {
			queued <- answer{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		queued <- answer{resp.StatusCode, string(body), err}
	}()
	p.Signal(syscall.SIGTERM)
	waitFor(t, "SIGTERM to be taken", func() bool { return strings.Contains(s.log(), "already finishing requests in progress") })
	if code, body, err := release(); err != nil || code != 200 || len(body) != 64<<10 {
		t.Errorf("request in progress: %d, %d bytes, %v", code, len(body), err)
	}
	if a := <-queued; a.err != nil || a.code != 200 || a.body != "Hello, world\n" {
		t.Errorf("request queued during the hand-over: %d %q %v, want 200 and the page", a.code, a.body, a.err)
	}
	if err := s.waitExit("SIGTERM"); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
}

func TestSpawned_SIGHUPHandsOver(t *testing.T) {
	s := newSite(t, "")
	s.spawn()
	s.mustGet("/")
	pid := s.cmd.Process.Pid
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the hand-over", func() bool { return strings.Contains(s.log(), "re-executing in place") })
	waitFor(t, "the new code to start", func() bool { return strings.Count(s.log(), `"message":"starting"`) == 2 })
	if code, _ := s.mustGet("/"); code != 200 || s.cmd.Process.Pid != pid {
		t.Fatalf("after SIGHUP: %d", code)
	}
}

func TestCGI(t *testing.T) {
	s := newSite(t, "GREETING=cgi hello\n")
	cmd := exec.Command(s.bin())
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1",
		"SCRIPT_NAME=/mysite.fcgi", "PATH_INFO=/", "REQUEST_URI=/", "SERVER_NAME=example.com", "SERVER_PORT=80",
		"REMOTE_ADDR=127.0.0.1", "HTTP_HOST=example.com"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasSuffix(string(out), "\r\n\r\ncgi hello\n") || !strings.Contains(string(out), "Status: 200") {
		t.Fatalf("CGI output %q", out)
	}
}
