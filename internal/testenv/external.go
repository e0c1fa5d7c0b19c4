package testenv

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// StartExternal installs bin as dir/mysite.fcgi with env as its settings
// file and runs it as an external server on listen (as -listen takes it),
// with extra flags. It stops the server by PID at the end of the test, and
// shows its log if the test failed.
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
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "mysite.log"))
			t.Logf("mysite.log:\n%s", b)
		}
	})
	return cmd
}

var client = &http.Client{Timeout: 10 * time.Second}

// Get fetches url over HTTP, giving up after 10 s.
func Get(url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// WaitUp waits up to 5 s for url to answer 200.
func WaitUp(t *testing.T, url string) {
	t.Helper()
	for i := 0; ; i++ {
		if code, _, _ := Get(url); code == 200 {
			return
		}
		if i == 100 {
			t.Fatal("site not up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ReloadUnderLoad has 4 clients request url, expecting want, while app
// (whose log is logPath) is sent SIGHUP three times, 300 ms apart. No
// request may fail, and the log must show the 3 re-executions. through
// names the web server in the test log. It returns the log.
func ReloadUnderLoad(t *testing.T, through, url, want string, app *exec.Cmd, logPath string) []byte {
	t.Helper()
	load := StartLoad(GetWant(url, func(b string) bool { return b == want }))
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		app.Process.Signal(syscall.SIGHUP)
	}
	time.Sleep(300 * time.Millisecond)
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
