package testenv

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// StartExternal installs bin as dir/mysite.fcgi with env as its settings
// file, runs it as an external server on listen (as -listen takes it),
// with extra flags, and waits until it listens. It stops the server by PID
// at the end of the test, and shows its log if the test failed.
func StartExternal(t *testing.T, bin, dir, env, listen string, extra ...string) *exec.Cmd {
	t.Helper()
	return StartExternalOn(t, nil, bin, dir, env, listen, extra...)
}

// StartExternalOn is StartExternal on host h (nil: this one).
func StartExternalOn(t *testing.T, h *Host, bin, dir, env, listen string, extra ...string) *exec.Cmd {
	t.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "mysite.fcgi"), b, 0o755)
	os.WriteFile(filepath.Join(dir, "mysite.env"), []byte(env), 0o644)
	os.Remove(filepath.Join(dir, "mysite.log")) // each run's own
	cmd := exec.Command(filepath.Join(dir, "mysite.fcgi"), append([]string{"-listen", listen}, extra...)...)
	cmd.Dir = dir
	h.in(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "mysite.log")
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("mysite.log:\n%s", b)
		}
	})
	// Returned once it listens: a web server connecting before would find
	// nothing there, and may then leave the backend out for a while.
	WaitFor(t, "the site to serve on "+listen, func() bool {
		return Logged(logPath, func(e LogEntry) bool { return strings.HasPrefix(e.Message, "serving ") && e.Listen != "" })
	})
	return cmd
}

// client bounds a request only against a hang.
var client = &http.Client{Timeout: Patience}

// Get fetches url over HTTP.
func Get(url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// SitePID returns the "pid: N" line of the hello site's /info at base,
// "" if it does not answer with one.
func SitePID(base string) string {
	_, info, _ := Get(base + "/info")
	for line := range strings.Lines(info) {
		if strings.HasPrefix(line, "pid: ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// SiteVersion returns the version the hello site's /info at base says it
// runs ("version: V"), "" if it does not answer with one.
func SiteVersion(base string) string {
	_, info, _ := Get(base + "/info")
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WaitUp waits for url to answer 200, ending the test if it never does.
func WaitUp(t *testing.T, url string) {
	t.Helper()
	WaitFor(t, url+" to answer 200", func() bool { code, _, _ := Get(url); return code == 200 })
}

// ReloadUnderLoad has 4 clients request url, expecting want, while app
// (whose log is logPath) is sent SIGHUP three times. No request may fail,
// and the log must show the 3 re-executions. through names the web server
// in the test log. It returns the log.
func ReloadUnderLoad(t *testing.T, through, url, want string, app *exec.Cmd, logPath string) []byte {
	t.Helper()
	load := StartLoad(GetWant(url, func(b string) bool { return b == want }))
	// Answers show the process serving, so catching SIGHUP.
	load.Await(t, 20)
	for i := 1; i <= 3; i++ {
		app.Process.Signal(syscall.SIGHUP)
		// The next SIGHUP only to the new code, started: one that comes
		// during the hand-over is taken as part of it.
		WaitReexecs(t, logPath, i)
		load.Await(t, 20)
	}
	load.Stop(t, "through "+through+" across 3 SIGHUP hand-overs")
	log, _ := os.ReadFile(logPath)
	if n := bytes.Count(log, []byte("re-executing in place")); n != 3 {
		t.Errorf("%d re-execs, want 3", n)
	}
	return log
}

// StartProcess starts cmd (a web server) keeping its output, and stops it
// by PID with SIGTERM at the end of the test; if the test failed, it shows
// the output and the files in logs.
func StartProcess(t *testing.T, cmd *exec.Cmd, logs ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if !t.Failed() {
			return
		}
		t.Logf("%s:\n%s", filepath.Base(cmd.Path), out.String())
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
	})
}
