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
func TestServer_HandoffUnderLoad(t *testing.T) { handoffUnderLoad(t, true) }

// TestServer_HandoffFreshConns is the same with a connection per request,
// as mod_fcgid talks: connections accepted but not yet asked anything are
// passed on, and one whose request is ending must not be shut before the
// response is written.
func TestServer_HandoffFreshConns(t *testing.T) { handoffUnderLoad(t, false) }

func handoffUnderLoad(t *testing.T, keepConn bool) {
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
			var c *Client
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil || !keepConn {
					if c != nil {
						c.Close()
					}
					var err error
					if c, err = Dial("unix", l.Addr().String()); err != nil {
						t.Error(err)
						return
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				resp, err := c.Do(ctx, &ClientRequest{KeepConn: keepConn, Params: baseParams()})
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
		time.Sleep(20 * time.Millisecond) // pacing: requests come and go between hand-offs
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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

// TestServer_ShutdownAsRequestsEnd calls Shutdown just as many handlers
// return: each response is still written in full before its connection
// is shut.
func TestServer_ShutdownAsRequestsEnd(t *testing.T) {
	const rounds, clients = 100, 16
	for keepConn := range 2 {
		failed := 0
		for range rounds {
			release := make(chan struct{})
			var started sync.WaitGroup
			started.Add(clients)
			srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				started.Done()
				<-release
				io.WriteString(w, "ok")
			})}
			srv.Logger, _ = newTestLog(t)
			l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(l)
			errs := make(chan error, clients)
			for range clients {
				go func() {
					c, err := Dial("unix", l.Addr().String())
					if err != nil {
						errs <- err
						started.Done()
						return
					}
					defer c.Close()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					resp, err := c.Do(ctx, &ClientRequest{KeepConn: keepConn == 1, Params: baseParams()})
					var body []byte
					if err == nil {
						body, err = io.ReadAll(resp.Body)
					}
					if err == nil && string(body) != "ok" {
						err = fmt.Errorf("body %q", body)
					}
					errs <- err
				}()
			}
			started.Wait()
			close(release)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			cancel()
			for range clients {
				if err := <-errs; err != nil {
					if failed == 0 {
						t.Errorf("keepConn=%d: %v", keepConn, err)
					}
					failed++
				}
			}
		}
		if failed > 0 {
			t.Errorf("keepConn=%d: %d of %d requests failed", keepConn, failed, rounds*clients)
		}
	}
}
