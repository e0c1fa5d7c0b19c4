package hosting_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// version is the version the site's /info page shows.
func (s *site) version() string {
	_, body, err := s.get("/info")
	if err != nil {
		return ""
	}
	_, v, _ := strings.Cut(body, "version: ")
	v, _, _ = strings.Cut(v, "\n")
	return v
}

func (s *site) staged() string   { return s.bin() + ".new" }
func (s *site) rejected() string { return s.bin() + ".rejected" }

// stage writes b where an FTP user uploads an update, with the mode FTP
// servers leave.
func (s *site) stage(b []byte) {
	s.t.Helper()
	if err := os.WriteFile(s.staged(), b, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An update uploaded as mysite.fcgi.new is tried, adopted and served with
// no failed request; one that cannot start is refused and renamed
// mysite.fcgi.rejected, the old code serving on; a half upload is never
// run, and the rest of it, appended as an FTP resume does, goes live.
func TestSpawned_StagedUpload(t *testing.T) {
	v2 := mustRead(t, testenv.BuildStamped(t, "../examples/hello", "v2"))
	v3 := mustRead(t, testenv.BuildStamped(t, "../examples/hello", "v3"))
	broken := mustRead(t, testenv.BuildStamped(t, "../internal/testenv/startpanic", "broken"))
	s := newSite(t, "")
	s.spawn()
	pid := s.cmd.Process.Pid
	load := testenv.StartLoad(func() error {
		code, body, err := s.get("/")
		if err != nil || code != 200 || body != "Hello, world\n" {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})

	s.stage(v2)
	waitFor(t, "v2 to go live", func() bool { return s.version() == "v2" })
	if _, err := os.Stat(s.staged()); !os.IsNotExist(err) {
		t.Errorf("mysite.fcgi.new still there after adoption (%v)", err)
	}
	if fi, err := os.Stat(s.bin()); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("adopted binary: %v, %v; want mode 0755, which suEXEC accepts", fi.Mode(), err)
	}

	s.stage(broken)
	waitFor(t, "the broken binary to be refused", func() bool { _, err := os.Stat(s.rejected()); return err == nil })
	log := s.log()
	for _, want := range []string{`"message":"refused mysite.fcgi.new; the old code keeps serving"`, "conflicts with pattern", `"output":`} {
		if !strings.Contains(log, want) {
			t.Errorf("mysite.log lacks %s", want)
		}
	}
	if v := s.version(); v != "v2" {
		t.Errorf("after a refused upload, version %q is live, want v2", v)
	}

	s.stage(v3[:len(v3)/2])
	waitFor(t, "the half upload to be noticed", func() bool {
		return strings.Contains(s.log(), "mysite.fcgi.new cannot run yet")
	})
	f, err := os.OpenFile(s.staged(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(v3[len(v3)/2:])
	f.Close()
	waitFor(t, "v3 to go live", func() bool { return s.version() == "v3" })
	load.Stop(t, "across staged uploads")
	// v3 starts as a stand-in, then in the site's process, re-executed in
	// place; its trial logs to the trying process, not mysite.log.
	site := fmt.Sprintf(`"pid":%d,"version":"v3"`, pid)
	waitFor(t, "the site's process to re-execute as v3", func() bool { return strings.Contains(s.log(), site) })
	var standIns, sites int
	for _, line := range strings.Split(s.log(), "\n") {
		switch {
		case !strings.Contains(line, `"version":"v3"`):
		case strings.Contains(line, site):
			sites++
		case strings.Contains(line, `"message":"starting as a stand-in`):
			standIns++
		default:
			t.Errorf("a v3 process other than the site's and its stand-in logged to mysite.log (its trial?): %s", line)
		}
	}
	if standIns != 1 || sites != 1 {
		t.Errorf("v3 started %d times as a stand-in and %d times in the site's process; want once each", standIns, sites)
	}
	if s.cmd.Process.Pid != pid {
		t.Errorf("the process was replaced, not re-executed in place")
	}
}

// A binary renamed over the running one (as an SFTP client does) is tried
// before the hand-over too: one that cannot start is not handed over to.
func TestSpawned_ReplacedBinaryTried(t *testing.T) {
	broken := testenv.BuildStamped(t, "../internal/testenv/startpanic", "broken")
	s := newSite(t, "")
	s.spawn()
	s.mustGet("/")
	s.install(broken)
	waitFor(t, "the replaced binary to be refused", func() bool {
		return strings.Contains(s.log(), "refused mysite.fcgi; the old code keeps serving")
	})
	if code, body := s.mustGet("/"); code != 200 || body != "Hello, world\n" {
		t.Errorf("old code should keep serving: %d %q", code, body)
	}
	if strings.Contains(s.log(), "re-executing in place") {
		t.Errorf("handed over to a binary that failed its trial")
	}
}
