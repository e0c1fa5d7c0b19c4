package caddy_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) {
	bin, cleanup := testenv.MustBuild("../../examples/hello")
	helloBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startCaddy runs Caddy with the Caddyfile, its marked lines pointed at
// sock, a free port and root, and stops it (by PID) at the end.
func startCaddy(t *testing.T, sock, root string) string {
	bin := testenv.Require(t, "caddy", "caddy")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	tmpl, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer(
		"example.com {", fmt.Sprintf("{\n\tadmin off\n\tstorage file_system %s\n}\nhttp://127.0.0.1:%d {", dir, port),
		"/srv/mysite/public", root,
		"unix//run/mysite/mysite.sock", "unix/"+sock,
	).Replace(string(tmpl))
	if !strings.Contains(conf, "unix/"+sock) || !strings.Contains(conf, root) {
		t.Fatal("the Caddyfile's marked lines changed; update the test")
	}
	path := filepath.Join(dir, "Caddyfile")
	os.WriteFile(path, []byte(conf), 0o644)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PATH=/usr/bin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("caddy:\n%s", out.String())
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// startApp runs the hello site as an external server on sock.
func startApp(t *testing.T, dir, sock string) *exec.Cmd {
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(dir, "mysite.fcgi"), b, 0o755)
	os.WriteFile(filepath.Join(dir, "mysite.env"), []byte("GREETING=v1\nDEBUG=true\n"), 0o644)
	cmd := exec.Command(filepath.Join(dir, "mysite.fcgi"), "-listen", "unix:"+sock)
	cmd.Dir = dir
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

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestCaddy(t *testing.T) {
	appDir, root := t.TempDir(), t.TempDir()
	sock := filepath.Join(appDir, "mysite.sock")
	os.MkdirAll(filepath.Join(root, "static"), 0o755)
	os.WriteFile(filepath.Join(root, "static", "style.css"), []byte("body{}"), 0o644)
	app := startApp(t, appDir, sock)
	base := startCaddy(t, sock, root)
	for i := 0; ; i++ {
		if code, _, _ := get(base + "/"); code == 200 {
			break
		}
		if i == 100 {
			t.Fatal("site not up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"v1\n"}},
		{"/info?x=1&y=%C3%A9", 200, []string{`prefix: ""`, "path: /info", "mode: external", "QUERY_STRING=x=1&y=%C3%A9", "link_to_echo: /echo", "SERVER_SOFTWARE=Caddy/"}},
		{"/no/such/page", 404, []string{"Not Found"}},
		{"/static/style.css", 200, []string{"body{}"}},
		{"/stream?n=3", 200, []string{"line 1\nline 2\nline 3\n"}},
	} {
		code, body, err := get(base + c.path)
		if err != nil || code != c.status {
			t.Errorf("%s: %d %v, want %d", c.path, code, err, c.status)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", c.path, w, body)
			}
		}
	}
	body := bytes.Repeat([]byte("0123456789"), 10<<10)
	resp, err := http.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, body) {
		t.Errorf("POST 100 KiB echoed %d bytes", len(got))
	}

	// A SIGHUP hand-over under load loses nothing.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
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
				code, b, err := get(base + "/")
				if err != nil || code != 200 || b != "v1\n" {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", code, b, err))
					continue
				}
				ok.Add(1)
			}
		})
	}
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		app.Process.Signal(syscall.SIGHUP)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests through Caddy across 3 SIGHUP hand-overs, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d failed; first: %v", failed.Load(), firstErr.Load())
	}
	log, _ := os.ReadFile(filepath.Join(appDir, "mysite.log"))
	if n := bytes.Count(log, []byte("re-executing in place")); n != 3 {
		t.Errorf("%d re-execs, want 3", n)
	}
}
