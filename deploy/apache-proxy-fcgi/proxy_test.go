package apacheproxyfcgi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/apachetest"
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

// startApp runs the site as an external server on listen.
func startApp(t *testing.T, dir, listen string) *exec.Cmd {
	b, _ := os.ReadFile(helloBin)
	os.WriteFile(filepath.Join(dir, "mysite.fcgi"), b, 0o755)
	os.Remove(filepath.Join(dir, "mysite.log")) // each run's own
	os.WriteFile(filepath.Join(dir, "mysite.env"), []byte("GREETING=v1\nDEBUG=true\n"), 0o644)
	cmd := exec.Command(filepath.Join(dir, "mysite.fcgi"), "-listen", listen, "-socket-mode", "0666")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
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

func TestApacheProxyFcgi(t *testing.T) {
	tmpl, err := os.ReadFile("mysite.conf")
	if err != nil {
		t.Fatal(err)
	}
	// Apache's workers (www-data) must reach the socket.
	appDir, err := os.MkdirTemp("", "proxy-app-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(appDir)
	os.Chmod(appDir, 0o755)
	for _, tc := range []struct{ name, listen, target string }{
		{"unix socket", "unix:" + filepath.Join(appDir, "mysite.sock"), "unix:" + filepath.Join(appDir, "mysite.sock") + "|fcgi://mysite/"},
		{"tcp", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := string(tmpl)
			if tc.target != "" {
				conf = strings.Replace(conf, "unix:/run/mysite/mysite.sock|fcgi://mysite/", tc.target, 1)
			} else {
				conf = strings.Replace(conf, `"unix:/run/mysite/mysite.sock|fcgi://mysite/"`, `"fcgi://`+tc.listen+`/"`, 1)
			}
			app := startApp(t, appDir, tc.listen)
			a := apachetest.Start(t, []string{"proxy", "proxy_fcgi"}, conf, func(a *apachetest.Apache) {
				os.MkdirAll(filepath.Join(a.WWW, "static"), 0o755)
				os.WriteFile(filepath.Join(a.WWW, "static", "style.css"), []byte("body{}"), 0o644)
			})
			for i := 0; ; i++ {
				if code, _, _ := get(a.Base + "/"); code == 200 {
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
				{"/info?x=1", 200, []string{`prefix: ""`, "path: /info", "mode: external", "QUERY_STRING=x=1"}},
				{"/sub/path", 404, []string{"Not Found"}},
				{"/static/style.css", 200, []string{"body{}"}},
				{"/stream?n=2", 200, []string{"line 1\nline 2\n"}},
			} {
				code, body, err := get(a.Base + c.path)
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
			resp, err := http.Post(a.Base+"/echo", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, body) {
				t.Errorf("POST 100 KiB echoed %d bytes", len(got))
			}

			// A restart by SIGHUP under load loses nothing.
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
						code, b, err := get(a.Base + "/")
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
			t.Logf("%d requests through mod_proxy_fcgi across 3 SIGHUP hand-overs, %d failed", ok.Load(), failed.Load())
			if failed.Load() != 0 {
				t.Errorf("%d failed; first: %v", failed.Load(), firstErr.Load())
			}
			log, _ := os.ReadFile(filepath.Join(appDir, "mysite.log"))
			if n := bytes.Count(log, []byte("re-executing in place")); n != 3 {
				t.Errorf("%d re-execs, want 3", n)
			}
			// enablereuse pools connections: the hand-overs passed some on.
			if !regexp.MustCompile(`"connections":[1-9]`).Match(log) {
				t.Errorf("no pooled connection was passed on:\n%s", log)
			}
		})
	}
}
