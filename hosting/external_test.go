package hosting_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startExternal runs the site as an external server on a unix socket.
func startExternal(t *testing.T, s *site, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(s.bin(), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.exit = make(chan error, 1)
	go func() { s.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exit:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
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

	// A live socket is not taken over.
	second := exec.Command(s.bin(), "-listen", "unix:"+s.sock)
	second.Dir = s.dir
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by a running server") {
		t.Errorf("second server on the same socket: %v %s", err, out)
	}

	// SIGHUP hands over to the new code on the same socket and PID.
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the hand-over", func() bool { return strings.Count(s.log(), `"message":"serving FastCGI"`) == 2 })
	if code, _ := s.mustGet("/"); code != 200 {
		t.Errorf("after SIGHUP: %d", code)
	}

	// SIGTERM stops it and cleans up.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.exit; err != nil {
		t.Fatalf("exit: %v", err)
	}
	s.exit <- nil
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
