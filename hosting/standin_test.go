package hosting_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/heldtest"
	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

// A hand-over while a long request runs, in a process that serves alone
// (spawned by lighttpd or spawn-fcgi; the test is the spawner): new
// requests are answered by the new code while the old one still holds the
// long request, which it then finishes; no request of 4 clients fails,
// and one process is left, with the PID the spawner started.
func TestSpawned_HandOverBesideALongRequest(t *testing.T) {
	v2 := testenv.BuildStamped(t, "../examples/hello", "v2")
	for _, tc := range []struct {
		name, env string
		change    func(s *site)
		// newCode reports whether a request was answered by the new code.
		newCode func(s *site, pid string) bool
	}{
		{"settings edited", "GREETING=v1\n", func(s *site) { s.writeEnv("GREETING=v2\n") }, greets("v2\n")},
		{"binary uploaded", "GREETING=v1\n", func(s *site) { s.install(v2) }, runsVersion("v2")},
		{"SIGHUP", "GREETING=v1\nRELOAD_POLL=0\n", func(s *site) {
			s.writeEnv("GREETING=v2\nRELOAD_POLL=0\n")
			s.cmd.Process.Signal(syscall.SIGHUP)
		}, greets("v2\n")},
		// The 64th request finds the memory over the limit.
		{"MEMORY_LIMIT", "GREETING=v1\nMEMORY_LIMIT=1MB\n", func(s *site) {}, func(s *site, pid string) bool {
			_, info, _ := s.get("/info")
			return strings.Contains(info, "pid: ") && !strings.Contains(info, "pid: "+pid+"\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, tc.env)
			s.env = []string{"GOMEMLIMIT=1GiB"} // MEMORY_LIMIT=1MB must not make the GC run without end
			s.spawn()
			s.mustGet("/") // up, and watching
			pid := strconv.Itoa(s.cmd.Process.Pid)
			held := heldtest.HoldEcho(t, "unix", s.sock)
			load := testenv.StartLoad(func() error {
				if code, body, err := s.get("/"); err != nil || code != 200 || !strings.HasPrefix(body, "v") {
					return fmt.Errorf("%d %q %v", code, body, err)
				}
				return nil
			})
			load.Await(t, 20)
			changed := time.Now()
			tc.change(s)
			waitFor(t, "an answer from the new code", func() bool { return tc.newCode(s, pid) || held.Ended() })
			t.Logf("first answer of the new code %v after the change, a long request in progress", time.Since(changed).Round(time.Millisecond))
			if held.Ended() {
				t.Fatal("the long request ended before it was released: the new code answered only after it was cut")
			}
			load.Await(t, 20)
			held.CheckReleased(t)
			testenv.WaitReexecs(t, s.dir+"/mysite.log", 1)
			load.Await(t, 20)
			load.Stop(t, "across a hand-over beside a long request")
			checkAlone(t, s, pid)
			if !tc.newCode(s, "") {
				t.Error("the re-executed code is not the new code")
			}
		})
	}
}

// checkAlone waits until the process s started, still pid, has no child
// left, and checks that it answers.
func checkAlone(t *testing.T, s *site, pid string) {
	t.Helper()
	waitFor(t, "the stand-in to finish and be reaped", func() bool { return len(testenv.Children(s.cmd.Process.Pid)) == 0 })
	if _, info, err := s.get("/info"); err != nil || !strings.Contains(info, "pid: "+pid+"\n") {
		t.Errorf("after the hand-over: %q %v; want process %s, the one spawned", info, err, pid)
	}
	if s.cmd.ProcessState != nil {
		t.Error("the spawned process exited")
	}
}

func greets(want string) func(s *site, pid string) bool {
	return func(s *site, pid string) bool { return greetsNow(s, want)() }
}

func runsVersion(v string) func(s *site, pid string) bool {
	return func(s *site, pid string) bool {
		_, info, _ := s.get("/info")
		return strings.Contains(info, "version: "+v+"\n")
	}
}

// A stop during a hand-over, with the stand-in serving and the old code
// finishing a long request: both finish their requests and exit; none is
// left.
func TestSpawned_StopDuringHandOver(t *testing.T) {
	s := newSite(t, "GREETING=v1\nRELOAD_POLL=0\n")
	s.spawn()
	s.mustGet("/")
	held := heldtest.HoldEcho(t, "unix", s.sock)
	s.writeEnv("GREETING=v2\nRELOAD_POLL=0\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the stand-in", greetsNow(s, "v2\n"))
	kids := testenv.Children(s.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("children %v, want the stand-in", kids)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the stop to be taken", func() bool { return strings.Contains(s.log(), "already finishing requests in progress") })
	held.CheckReleased(t)
	if err := s.waitExit("SIGTERM"); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(kids[0])); err == nil {
		t.Errorf("the stand-in %d outlived the process", kids[0])
	}
	if strings.Contains(s.log(), "re-executing in place") {
		t.Error("re-executed though asked to stop")
	}
}

// A second reload while the old code still finishes a long request is
// part of the hand-over under way: the re-executed code reads the settings
// as they are by then.
func TestSpawned_SecondReloadDuringHandOver(t *testing.T) {
	s := newSite(t, "GREETING=v1\nRELOAD_POLL=0\n")
	s.spawn()
	s.mustGet("/")
	pid := strconv.Itoa(s.cmd.Process.Pid)
	held := heldtest.HoldEcho(t, "unix", s.sock)
	s.writeEnv("GREETING=v2\nRELOAD_POLL=0\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the stand-in", greetsNow(s, "v2\n"))
	s.writeEnv("GREETING=v3\nRELOAD_POLL=0\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the second SIGHUP to be taken", func() bool { return strings.Contains(s.log(), "already finishing requests in progress") })
	held.CheckReleased(t)
	waitFor(t, "the re-executed code", greetsNow(s, "v3\n"))
	checkAlone(t, s, pid)
	if n := strings.Count(s.log(), "re-executing in place"); n != 1 {
		t.Errorf("%d re-executions, want 1", n)
	}
}

func greetsNow(s *site, want string) func() bool {
	return func() bool { _, body, _ := s.get("/"); return body == want }
}

// Connections a web server keeps (nginx's upstream keepalive, Apache's
// mod_proxy_fcgi and mod_proxy_ajp pools) may carry a request at any
// moment of a hand-over. One kept before the change, and one opened and
// not yet used, are answered by the new code while the old finishes a
// long request, and still after the stand-in stepped back to the
// re-executed code: no kept connection is parked or closed under the web
// server.
func TestSpawned_KeptConnectionsAcrossHandOver(t *testing.T) {
	s := newSite(t, "GREETING=v1\nRELOAD_POLL=0\n")
	s.spawn()
	pid := strconv.Itoa(s.cmd.Process.Pid)
	kept, err := responder.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	ask := func(c *responder.Client, path string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), hangBound)
		defer cancel()
		resp, err := c.Do(ctx, &responder.ClientRequest{KeepConn: true, Params: params("GET", path)})
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := ask(kept, "/"); body != "v1\n" || err != nil {
		t.Fatalf("before the change: %q %v", body, err)
	}
	raw, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	unused := responder.NewClient(raw)
	defer unused.Close()

	held := heldtest.HoldEcho(t, "unix", s.sock)
	s.writeEnv("GREETING=v2\nRELOAD_POLL=0\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the stand-in", greetsNow(s, "v2\n"))
	for _, c := range []struct {
		name string
		c    *responder.Client
	}{{"kept", kept}, {"opened before the change", unused}} {
		if body, err := ask(c.c, "/"); body != "v2\n" || err != nil {
			t.Errorf("%s connection, the old code finishing a long request: %q %v; want the new code's answer", c.name, body, err)
		}
	}
	if held.Ended() {
		t.Fatal("the long request ended before it was released")
	}
	held.CheckReleased(t)
	checkAlone(t, s, pid) // the stand-in stepped back and exited
	for _, c := range []struct {
		name string
		c    *responder.Client
	}{{"kept", kept}, {"opened before the change", unused}} {
		if info, err := ask(c.c, "/info"); err != nil || !strings.Contains(info, "pid: "+pid+"\n") {
			t.Errorf("%s connection, after the stand-in stepped back: %q %v; want the re-executed code (pid %s)", c.name, info, err, pid)
		}
	}
}
