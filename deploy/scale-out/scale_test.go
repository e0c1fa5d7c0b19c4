package scaleout_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// backends are the three machines of the templates; each is a network
// namespace of its own (testenv.Hosts) or, where none can be made, a
// loopback address of its own.
var backends = []struct{ template, loopback string }{
	{"10.0.0.11:9000", "127.0.0.2"},
	{"10.0.0.12:9000", "127.0.0.3"},
	{"10.0.0.13:9000", "127.0.0.4"},
}

// Under load from 4 clients, every backend is reloaded in turn (SIGHUP),
// then one is stopped (SIGTERM: it drains and exits): no request may fail,
// every backend must serve, before and after its reload, and the stopped
// one none after. The backends listen before the balancer starts, so none
// is refused and left out for fail_timeout; the load goes on until each
// has served, however the balancer and the machine's speed spread it.
func TestScaleOut(t *testing.T) {
	for _, tc := range []struct {
		name, template string
		start          func(t *testing.T, conf string) string
	}{
		{"nginx upstream", "nginx-upstream.conf", startNginx},
		{"HAProxy fcgi-app", "haproxy.cfg", startHAProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := os.ReadFile(tc.template)
			if err != nil {
				t.Fatal(err)
			}
			port := testenv.FreePort(t)
			conf := string(tmpl)
			hosts := testenv.Hosts(t, len(backends))
			if hosts != nil {
				t.Logf("backends in network namespaces %s, %s, %s", hosts[0].Addr, hosts[1].Addr, hosts[2].Addr)
			}
			var apps []*exec.Cmd
			var logs []string
			for i, b := range backends {
				var host *testenv.Host
				addr := fmt.Sprintf("%s:%d", b.loopback, port)
				if hosts != nil {
					host = &hosts[i]
					addr = host.Addr + ":9000"
				}
				if !strings.Contains(conf, b.template) {
					t.Fatalf("%s no longer lists %s", tc.template, b.template)
				}
				conf = strings.ReplaceAll(conf, b.template, addr)
				dir := t.TempDir()
				apps = append(apps, testenv.StartExternalOn(t, host, helloBin, dir, fmt.Sprintf("GREETING=b%d\n", i+1), addr))
				logs = append(logs, filepath.Join(dir, "mysite.log"))
			}
			base := tc.start(t, conf)
			testenv.WaitUp(t, base+"/")

			var mu sync.Mutex
			served := map[string]int{}
			servedBy := func(i int) int {
				mu.Lock()
				defer mu.Unlock()
				return served[fmt.Sprintf("b%d", i+1)]
			}
			load := testenv.StartLoad(func() error {
				code, body, err := testenv.Get(base + "/")
				if err != nil || code != 200 || !strings.HasPrefix(body, "b") {
					return fmt.Errorf("%d %q %v", code, body, err)
				}
				mu.Lock()
				served[strings.TrimSpace(body)]++
				mu.Unlock()
				return nil
			})
			load.Await(t, 20)
			// more waits until backend i has served n more requests.
			more := func(i, n int, when string) {
				t.Helper()
				from := servedBy(i)
				testenv.WaitFor(t, fmt.Sprintf("backend %d to serve %s", i+1, when), func() bool { return servedBy(i) >= from+n })
			}
			for i := range apps {
				more(i, 1, "under load")
			}
			for i, app := range apps {
				app.Process.Signal(syscall.SIGHUP)
				testenv.WaitReexecs(t, logs[i], 1)
				// Past the 4 requests the clients can have had with the old code.
				more(i, 5, "after its reload")
			}
			apps[1].Process.Signal(syscall.SIGTERM)
			stopped := make(chan error, 1)
			go func() { stopped <- apps[1].Wait() }()
			var stopErr error
			select {
			case stopErr = <-stopped:
			case <-time.After(testenv.Patience):
				t.Fatal("the stopped backend did not exit")
			}
			load.Await(t, 20) // with the stopped backend gone
			load.Stop(t, fmt.Sprintf("through %s, every backend reloaded in turn, then one stopped", tc.name))
			t.Logf("served by backend: %v", served)
			if stopErr != nil {
				t.Errorf("the stopped backend exited with %v, want a clean drain", stopErr)
			}
			for range 20 {
				if _, body, _ := testenv.Get(base + "/"); body == "b2\n" {
					t.Fatal("the stopped backend still answers")
				}
			}
			for i := range backends {
				if log, _ := os.ReadFile(logs[i]); !bytes.Contains(log, []byte("re-executing in place")) {
					t.Errorf("backend %d did not reload:\n%s", i+1, log)
				}
			}
		})
	}
}

func startNginx(t *testing.T, conf string) string {
	root := t.TempDir()
	return testenv.StartNginx(t, strings.ReplaceAll(conf, "/srv/mysite/public", root))
}

func startHAProxy(t *testing.T, conf string) string {
	bin := testenv.Require(t, "haproxy", "haproxy")
	port := testenv.FreePort(t)
	conf = strings.Replace(conf, "bind :80", fmt.Sprintf("bind 127.0.0.1:%d", port), 1)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.StartProcess(t, exec.Command(bin, "-db", "-f", path))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}
