package systemd_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

// helloBin is examples/hello, built once for the package's tests.
var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// unit reads the [Service] settings of mysite.service.
func unit(t *testing.T) map[string]string { return unitSection(t, "mysite.service", "[Service]") }

// unitSection reads the settings of one section of a unit file.
func unitSection(t *testing.T, file, name string) map[string]string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == name:
			k, v, _ := strings.Cut(line, "=")
			settings[k] = v
		}
	}
	return settings
}

func get(sock string) (string, error) { return getPath(sock, "/") }

// getPath asks the site on the unix socket sock for path over FastCGI,
// as nginx would; an answer other than 200 is an error.
func getPath(sock, path string) (string, error) {
	c, err := responder.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	return ask(c, path)
}

// ask sends one request for path on the connection c, then closes it.
func ask(c *responder.Client, path string) (string, error) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
	defer cancel()
	resp, err := c.Do(ctx, &responder.ClientRequest{Params: map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": path, "SCRIPT_NAME": "", "PATH_INFO": path,
		"SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
	}})
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		return string(b), &statusError{resp.StatusCode}
	}
	return string(b), err
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "status " + strconv.Itoa(e.code) }

// TestUnit does what systemd does with mysite.service's commands (the
// sandboxing lines need systemd itself): start, reload under load, stop.
func TestUnit(t *testing.T) {
	svc := unit(t)
	site, run := t.TempDir(), t.TempDir()
	paths := strings.NewReplacer("/srv/mysite", site, "/run/mysite", run)
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(site, "mysite.fcgi"), b, 0o755)
	envPath := filepath.Join(site, "mysite.env")
	// No watching of the file: the reload below must come from ExecReload
	// alone, not from the process noticing the edit first.
	os.WriteFile(envPath, []byte("GREETING=v1\nRELOAD_POLL=0\n"), 0o644)

	if svc["Type"] != "simple" || svc["RuntimeDirectory"] != "mysite" {
		t.Fatalf("Type=%s RuntimeDirectory=%s: the test assumes simple and mysite", svc["Type"], svc["RuntimeDirectory"])
	}
	argv := strings.Fields(paths.Replace(svc["ExecStart"]))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = paths.Replace(svc["WorkingDirectory"])
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(site, "mysite.log"))
			t.Logf("mysite.log:\n%s", log)
		}
	}()
	sock := filepath.Join(run, "mysite.sock")
	// An answer also shows the process catching the reload signal.
	testenv.WaitFor(t, "v1 on "+sock, func() bool { body, err := get(sock); return err == nil && body == "v1\n" })
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v %v, want 0660 as -socket-mode says", fi.Mode().Perm(), err)
	}

	// systemctl reload under load: the new settings, same PID, nothing lost.
	os.WriteFile(envPath, []byte("GREETING=v2\nRELOAD_POLL=0\n"), 0o644)
	load := testenv.StartLoad(func() error { _, err := get(sock); return err })
	load.Await(t, 20)
	reload := strings.Fields(strings.ReplaceAll(svc["ExecReload"], "$MAINPID", strconv.Itoa(cmd.Process.Pid)))
	if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecReload: %v %s", err, out)
	}
	testenv.WaitFor(t, "ExecReload to bring in the new settings", func() bool { body, err := get(sock); return err == nil && body == "v2\n" })
	// The new settings answer first from a stand-in; the main process has
	// re-executed, and catches the stop, once its new code has started.
	testenv.WaitReexecs(t, filepath.Join(site, "mysite.log"), 1)
	load.Await(t, 20)
	load.Stop(t, "across systemctl reload")
	select {
	case <-exited:
		t.Fatalf("the main process exited on reload (%v): systemd would take the service as stopped", waitErr)
	default:
	}

	// systemctl stop: KillSignal, then a clean exit within TimeoutStopSec.
	sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}[svc["KillSignal"]]
	timeout, err := strconv.Atoi(svc["TimeoutStopSec"])
	if sig == 0 || err != nil {
		t.Fatalf("KillSignal=%s TimeoutStopSec=%s", svc["KillSignal"], svc["TimeoutStopSec"])
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("stop: %v, want exit status 0 (Restart=on-failure would restart it)", waitErr)
		}
	case <-time.After(time.Duration(timeout) * time.Second):
		t.Fatalf("still running %ds after %s: systemd would SIGKILL it", timeout, svc["KillSignal"])
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left behind after stop: %v", err)
	}
}
