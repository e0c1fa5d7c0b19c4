package hosting_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
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

// startExternal runs the site as an external server on a unix socket.
func startExternal(t *testing.T, s *site, args ...string) *exec.Cmd {
	t.Helper()
	return startWithEnv(t, s, nil, args...)
}

// startWithEnv runs the site with args and env besides PATH, and stops it
// by SIGTERM at the end of the test.
func startWithEnv(t *testing.T, s *site, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(s.bin(), args...)
	cmd.Dir = s.dir
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// This process's own exit: a restarted server gets s.exit anew.
	exit := make(chan error, 1)
	s.cmd, s.exit = cmd, exit
	go func() { exit <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exit:
		case <-time.After(hangBound):
			// Its goroutines (SIGQUIT) and log, to tell where it hung.
			cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-exit:
			case <-time.After(hangBound):
				cmd.Process.Kill()
			}
			b, _ := os.ReadFile(out.Name())
			t.Errorf("server did not stop %v after SIGTERM; mysite.log:\n%s\nits output:\n%s", hangBound, s.log(), b)
		}
	})
	return cmd
}

func TestExternal_UnixSocket(t *testing.T) {
	s := newSite(t, "")
	dir := t.TempDir()
	s.sock = filepath.Join(dir, "mysite.sock")
	pidfile := filepath.Join(dir, "mysite.pid")

	// A socket file left behind by a dead server is replaced.
	l, _ := net.Listen("unix", s.sock)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	// A symlink planted where the pidfile goes is replaced, not followed.
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep me"), 0o600)
	os.Symlink(victim, pidfile)

	cmd := startExternal(t, s, "-listen", "unix:"+s.sock, "-pidfile", pidfile, "-socket-mode", "0660")
	waitFor(t, "the server", func() bool { code, _, err := s.get("/"); return err == nil && code == 200 })
	if _, body := s.mustGet("/info"); !strings.Contains(body, "mode: external") {
		t.Errorf("/info: %s", body)
	}
	if fi, err := os.Stat(s.sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v (%v), want 0660", fi.Mode().Perm(), err)
	}
	if b, _ := os.ReadFile(pidfile); strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("pidfile %q, want %d", b, cmd.Process.Pid)
	}
	if fi, err := os.Lstat(pidfile); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("pidfile mode %v (%v), want a regular file, 0644", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("the symlink's target was written: %q", b)
	}

	// A live socket is not taken over.
	second := exec.Command(s.bin(), "-listen", "unix:"+s.sock)
	second.Dir = s.dir
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by a running server") {
		t.Errorf("second server on the same socket: %v %s", err, out)
	}

	// SIGHUP hands over to the new code on the same socket and PID.
	cmd.Process.Signal(syscall.SIGHUP)
	testenv.WaitReexecs(t, filepath.Join(s.dir, "mysite.log"), 1)
	if code, _ := s.mustGet("/"); code != 200 {
		t.Errorf("after SIGHUP: %d", code)
	}

	// An update staged as mysite.fcgi.new is adopted the same way.
	os.WriteFile(s.staged(), mustRead(t, helloBin), 0o644)
	testenv.WaitReexecs(t, filepath.Join(s.dir, "mysite.log"), 2)
	if _, err := os.Stat(s.staged()); !os.IsNotExist(err) {
		t.Errorf("mysite.fcgi.new not adopted: %v", err)
	}

	// SIGTERM stops it and cleans up.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := s.waitExit("SIGTERM"); err != nil {
		t.Fatalf("exit: %v", err)
	}
	for _, p := range []string{s.sock, pidfile} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestExternal_TCP(t *testing.T) {
	s := newSite(t, "")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	startExternal(t, s, "-listen", addr, "-maxrequests", "3")
	s.sock = ""
	get := func() (int, error) {
		code, _, err := s.getTCP(addr, "/")
		return code, err
	}
	waitFor(t, "the server", func() bool { code, err := get(); return err == nil && code == 200 })
	for i := range 10 {
		if code, err := get(); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
	}
	if !strings.Contains(s.log(), "MAX_REQUESTS reached") {
		t.Error("-maxrequests had no effect")
	}
}

// -protocol http: net/http's server behind a reverse proxy, with the
// client's address and scheme from a proxy on loopback, the body limit,
// and SIGHUP handing over with no request lost.
func TestExternal_HTTP(t *testing.T) {
	s := newSite(t, "DEBUG=true\nGREETING=over http\n")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := startExternal(t, s, "-listen", addr, "-protocol", "http")
	base := "http://" + addr
	waitFor(t, "the server", func() bool { code, _, _ := testenv.Get(base + "/"); return code == 200 })

	req, _ := http.NewRequest("GET", base+"/info?q=1", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"mode: external", "REMOTE_ADDR=198.51.100.7\n", "HTTPS=on\n", "QUERY_STRING=q=1\n", "REQUEST_METHOD=GET\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/info lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(s.log(), `"message":"serving HTTP"`) {
		t.Errorf("log does not say it serves HTTP:\n%s", s.log())
	}

	big, err := http.Post(base+"/echo", "text/plain", strings.NewReader(strings.Repeat("x", 33<<20)))
	if err == nil {
		n, _ := io.Copy(io.Discard, big.Body)
		big.Body.Close()
		if n >= 33<<20 {
			t.Errorf("a 33 MiB body was echoed whole past the 32 MiB default limit")
		}
	}

	// Besides the clients (whose transport retries a GET on a connection
	// closed under it), one that never retries: it sends each request on
	// its kept-alive connection, and opens a new one only when told to by
	// Connection: close.
	keptDone := make(chan error, 1)
	stop := make(chan struct{})
	var kept, served atomic.Int64 // requests answered
	go func() {
		var conn net.Conn
		var br *bufio.Reader
		defer func() {
			if conn != nil {
				conn.Close()
			}
		}()
		for n := 0; ; n++ {
			select {
			case <-stop:
				keptDone <- nil
				return
			default:
			}
			if conn == nil {
				var err error
				if conn, err = net.Dial("tcp", addr); err != nil {
					keptDone <- err
					return
				}
				br = bufio.NewReader(conn)
			}
			if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				keptDone <- fmt.Errorf("request %d: %v", n, err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				keptDone <- fmt.Errorf("response %d: %v", n, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			kept.Add(1)
			if resp.Close {
				conn.Close()
				conn = nil
			}
		}
	}()
	get := testenv.GetWant(base+"/", func(b string) bool { return b == "over http\n" })
	load := testenv.StartLoad(func() error {
		err := get()
		if err == nil {
			served.Add(1)
		}
		return err
	})
	// Each hand-over, and the end, waits until both kinds of client have
	// been answered again: every hand-over meets clients at work, however
	// slow the machine.
	progress := func() {
		k, n := kept.Load(), served.Load()
		waitFor(t, "requests answered", func() bool { return kept.Load() > k+10 && served.Load() > n+10 })
	}
	for i := 1; i <= 3; i++ {
		progress()
		cmd.Process.Signal(syscall.SIGHUP)
		// Its new code started, and catches the next SIGHUP.
		testenv.WaitReexecs(t, filepath.Join(s.dir, "mysite.log"), i)
	}
	progress()
	load.Stop(t, "across 3 SIGHUP hand-overs")
	close(stop)
	if err := <-keptDone; err != nil {
		t.Errorf("a request on a kept-alive connection failed at a hand-over: %v", err)
	}
	if strings.Contains(s.log(), "closing at once") {
		t.Error("a hand-over was cut short")
	}
}
