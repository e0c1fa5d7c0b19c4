package responder

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServer_Handoff passes kept-alive connections from one server to
// another, as a re-executed process does: the web server's pooled
// connections keep working, and none is closed under it.
func TestServer_Handoff(t *testing.T) {
	named := func(name string, started, release chan struct{}) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(started)
				<-release
			}
			io.WriteString(w, name)
		})
	}
	started, release := make(chan struct{}), make(chan struct{})
	a := &Server{Handler: named("A", started, release)}
	a.Logger, _ = newTestLog(t)
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve(l)
	dial := func() *Client {
		c, err := Dial("unix", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	keep := func(path string) *ClientRequest {
		return &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": path})}
	}
	idle, busy, fresh := dial(), dial(), dial()
	if _, b := do(t, idle, keep("/")); b != "A" {
		t.Fatal(b)
	}
	slow := make(chan string)
	go func() { _, b := do(t, busy, keep("/slow")); slow <- b }()
	<-started
	waitConns(t, a, 3) // fresh too: accepted, not in the backlog

	type result struct {
		files []*os.File
		err   error
	}
	handed := make(chan result)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fs, err := a.Handoff(ctx)
		handed <- result{fs, err}
	}()
	// The slow request ends only once Handoff has begun.
	if !waitUntil(func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.handingOff }) {
		t.Fatal("Handoff never began")
	}
	close(release)
	if b := <-slow; b != "A" {
		t.Fatalf("request in flight during Handoff: %q", b)
	}
	r := <-handed
	if r.err != nil || len(r.files) != 3 {
		t.Fatalf("Handoff: %d connections, %v; want 3", len(r.files), r.err)
	}

	b := &Server{Handler: named("B", nil, nil)}
	b.Logger, _ = newTestLog(t)
	for _, f := range r.files {
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		b.ServeConn(c)
	}
	for name, c := range map[string]*Client{"idle": idle, "busy": busy, "fresh": fresh} {
		if _, body := do(t, c, keep("/")); body != "B" {
			t.Errorf("%s connection after the hand-off: %q, want B", name, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Close()
	b.Shutdown(ctx)
	checkNoServerGoroutines(t)
}
