package hosting_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// Faults around a running site: its settings file broken, removed or
// unreadable, a full disk under its log, a SIGKILL during a reload.

// TestSpawned_SettingsFileFaults: good settings are never traded for bad
// ones while the site serves; fixing the file takes effect.
func TestSpawned_SettingsFileFaults(t *testing.T) {
	s := newSite(t, "GREETING=v1\n")
	s.spawn()
	s.mustGet("/")
	load := testenv.StartLoad(func() error {
		code, body, err := s.get("/")
		if err != nil || code != 200 || !strings.HasPrefix(body, "v") {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
	env := filepath.Join(s.dir, "mysite.env")
	refusals := func() int {
		return strings.Count(s.log(), "settings file changed but cannot be used; the running settings stay")
	}
	for i, fault := range []struct {
		name, log string
		do        func()
	}{
		{"a typo", `DEBUG: want true or false, got \"yes please\"`, func() { s.writeEnv("GREETING=v2\nDEBUG=yes please\n") }},
		{"a syntax error", "mysite.env:2: unexpected character", func() { s.writeEnv("GREETING=v2\nSECRET_KEY hunter2\n") }},
		{"removed", "mysite.env was removed; the running settings stay until it is back", func() { os.Remove(env) }},
		{"unreadable", "the web server's user must be able to read it", func() {
			if os.Geteuid() == 0 {
				os.Mkdir(env, 0o755) // root reads any file, but not a directory as one
			} else {
				// Created unreadable (it was removed): a readable
				// moment could settle and be taken.
				os.WriteFile(env, []byte("GREETING=v2\n"), 0)
			}
		}},
	} {
		fault.do()
		waitFor(t, fault.name+" to be refused", func() bool { return refusals() == i+1 })
		if !strings.Contains(s.log(), fault.log) {
			t.Errorf("%s: log lacks %q", fault.name, fault.log)
		}
		if code, body := s.mustGet("/"); code != 200 || body != "v1\n" {
			t.Errorf("after %s: %d %q, want the running settings", fault.name, code, body)
		}
		if fault.name == "unreadable" {
			os.Remove(env)
		}
	}
	s.writeEnv("GREETING=v3\n")
	waitFor(t, "the fixed settings", func() bool { _, body, _ := s.get("/"); return body == "v3\n" })
	load.Stop(t, "across a typo, a syntax error, a removal and an unreadable settings file")
	if strings.Contains(s.log(), "hunter2") {
		t.Error("the settings file's text reached the log")
	}
}

// TestSpawned_LogDiskFull: a log file on a full disk loses log lines, not
// requests, and stderr (the web server's error log) says so once.
func TestSpawned_LogDiskFull(t *testing.T) {
	s := newSite(t, "LOG_FILE=full.log\n")
	if err := os.Symlink("/dev/full", filepath.Join(s.dir, "full.log")); err != nil {
		t.Fatal(err)
	}
	s.spawn()
	for range 20 {
		if code, _ := s.mustGet("/"); code != 200 {
			t.Fatalf("status %d with the log's disk full", code)
		}
	}
	if e := s.stderr(); strings.Count(e, "no space left on device; log lines are lost until it can be written again") != 1 {
		t.Errorf("stderr should say once that log lines are lost, got:\n%s", e)
	}
}

// TestExternal_SIGKILLDuringReload kills the server while it hands over:
// requests in flight fail loudly (the web server sees the connection
// reset, never a hang), and the server started again takes over the stale
// socket and pidfile.
func TestExternal_SIGKILLDuringReload(t *testing.T) {
	s := newSite(t, "")
	dir := t.TempDir()
	s.sock = filepath.Join(dir, "mysite.sock")
	pidfile := filepath.Join(dir, "mysite.pid")
	args := []string{"-listen", "unix:" + s.sock, "-pidfile", pidfile}
	cmd := startExternal(t, s, args...)
	waitFor(t, "the server", func() bool { code, _, err := s.get("/"); return err == nil && code == 200 })
	var ok, failed, hung atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 50000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := s.get("/")
				switch {
				case errors.Is(err, context.DeadlineExceeded): // no answer, no error, for hangBound
					hung.Add(1)
				case err != nil || code != 200:
					failed.Add(1)
				default:
					ok.Add(1)
				}
			}
		})
	}
	waitFor(t, "requests served", func() bool { return ok.Load() > 100 })
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the hand-over to begin", func() bool { return strings.Contains(s.log(), "handing over to the new code") })
	cmd.Process.Signal(syscall.SIGKILL)
	var killed *exec.ExitError
	if err := s.waitExit("SIGKILL"); !errors.As(err, &killed) {
		t.Fatalf("exit: %v, want killed", err)
	}
	for _, p := range []string{s.sock, pidfile} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s should be left behind by SIGKILL: %v", p, err)
		}
	}
	startExternal(t, s, args...)
	waitFor(t, "the restarted server", func() bool { code, _, err := s.get("/"); return err == nil && code == 200 })
	served := ok.Load()
	waitFor(t, "requests served after the restart", func() bool { return ok.Load() > served+100 })
	close(stop)
	wg.Wait()
	t.Logf("%d requests served; %d failed with an error while the server was killed and down; %d hung", ok.Load(), failed.Load(), hung.Load())
	if hung.Load() != 0 {
		t.Errorf("%d requests hung instead of failing", hung.Load())
	}
}
