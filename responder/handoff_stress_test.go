package responder

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServer_HandoffUnderLoad hands kept-alive connections from server to
// server 100 times while clients keep sending requests on them: no request
// may be lost or left unanswered.
func TestServer_HandoffUnderLoad(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	pl := pausing{l.(*net.UnixListener)}
	newServer := func() *Server {
		s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		s.Logger, _ = newTestLog(t)
		go s.Serve(pl)
		return s
	}
	srv := newServer()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			c, err := Dial("unix", l.Addr().String())
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
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				resp, err := c.Do(ctx, &ClientRequest{KeepConn: true, Params: baseParams()})
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
				}
				cancel()
				if err != nil || string(body) != "ok" {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("request %d: %q %v", i, body, err))
					return
				}
				ok.Add(1)
			}
		})
	}
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		files, err := srv.Handoff(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Handoff: %v", err)
		}
		pl.l.SetDeadline(time.Time{})
		srv = newServer()
		for _, f := range files {
			f.Fd() // as an exec hand-over does: blocking mode
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			srv.ServeConn(c)
		}
	}
	close(stop)
	wg.Wait()
	srv.Close()
	t.Logf("%d requests across 100 hand-offs, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("first failure: %v", firstErr.Load())
	}
}

// pausing is a listener whose Close only stops Accept, as hosting's is.
type pausing struct{ l *net.UnixListener }

func (p pausing) Accept() (net.Conn, error) { return p.l.Accept() }
func (p pausing) Close() error              { return p.l.SetDeadline(time.Unix(1, 0)) }
func (p pausing) Addr() net.Addr            { return p.l.Addr() }
