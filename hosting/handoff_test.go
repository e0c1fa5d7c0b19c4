package hosting_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/fcgi-hosting/fcgi/responder"
)

// A web server that pools connections (mod_proxy_fcgi with enablereuse,
// nginx with upstream keepalive) sends requests on them at any moment.
// Re-executing under such load, 15 times in a row, must lose none: idle
// kept-alive connections pass to the new code instead of being closed.
func TestExternal_ReloadKeepsPooledConnections(t *testing.T) {
	s := newSite(t, "")
	s.sock = filepath.Join(t.TempDir(), "m.sock")
	cmd := startExternal(t, s, "-listen", "unix:"+s.sock)
	waitFor(t, "the server", func() bool { code, _, err := s.get("/"); return err == nil && code == 200 })
	var ok, failed atomic.Int64
	var answered [6]atomic.Int64 // by connection
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for conn := range answered {
		wg.Go(func() {
			c, err := responder.Dial("unix", s.sock)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), hangBound)
				resp, err := c.Do(ctx, &responder.ClientRequest{KeepConn: true, Params: map[string]string{
					"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1"}})
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
				}
				cancel()
				if err != nil || !strings.HasPrefix(string(body), "Hello") {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("request %d: %q %v", i, body, err))
					return // the connection is unusable now
				}
				ok.Add(1)
				answered[conn].Add(1)
			}
		})
	}
	reexecs := func() int { return strings.Count(s.log(), "re-executing in place") }
	starts := func() int { return strings.Count(s.log(), `"message":"starting"`) }
	for n := 1; n <= 15; n++ {
		// At once: a signal while the new code starts must not kill it.
		cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "a re-exec", func() bool { return reexecs() >= n })
		waitFor(t, "the new code", func() bool { return starts() >= n+1 })
	}
	// Each connection's second answer from now is to a request sent after
	// the last re-exec: the last new code serves every connection.
	var before [len(answered)]int64
	for i := range answered {
		before[i] = answered[i].Load()
	}
	waitFor(t, "an answer on each connection from the last new code", func() bool {
		for i := range answered {
			if answered[i].Load() < before[i]+2 && failed.Load() == 0 {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()
	t.Logf("%d requests on 6 pooled connections across %d re-execs", ok.Load(), reexecs())
	if failed.Load() > 0 {
		t.Fatalf("%d connections failed; first: %v", failed.Load(), firstErr.Load())
	}
	if !strings.Contains(s.log(), `"connections":6`) {
		t.Errorf("the log does not show the 6 connections passed on:\n%s", s.log())
	}
}
