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
	dial := dialer(t, l)
	idle, busy, fresh := dial(), dial(), dial()
	if _, b := do(t, idle, keepConn("/")); b != "A" {
		t.Fatal(b)
	}
	slow := make(chan string)
	go func() { _, b := do(t, busy, keepConn("/slow")); slow <- b }()
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
		if _, body := do(t, c, keepConn("/")); body != "B" {
			t.Errorf("%s connection after the hand-off: %q, want B", name, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Close()
	b.Shutdown(ctx)
	checkNoServerGoroutines(t)
}

// TestServer_HandoffFunc passes each connection as soon as it is idle, to
// a server serving beside: the idle and the fresh connection are answered
// by it while a slow request still runs here, and the busy connection
// follows once its request is done.
func TestServer_HandoffFunc(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	a := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "A")
	})}
	a.Logger, _ = newTestLog(t)
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve(l)
	b := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "B") })}
	b.Logger, _ = newTestLog(t)
	dial := dialer(t, l)
	idle, busy, fresh := dial(), dial(), dial()
	if _, body := do(t, idle, keepConn("/")); body != "A" {
		t.Fatal(body)
	}
	slow := make(chan string)
	go func() { _, body := do(t, busy, keepConn("/slow")); slow <- body }()
	<-started
	waitConns(t, a, 3)

	passed := make(chan struct{}, 3)
	handed := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		handed <- a.HandoffFunc(ctx, func(f *os.File) {
			c, err := net.FileConn(f)
			f.Close()
			if err == nil {
				b.ServeConn(c)
			}
			passed <- struct{}{}
		})
	}()
	<-passed
	<-passed
	for name, c := range map[string]*Client{"idle": idle, "fresh": fresh} {
		if _, body := do(t, c, keepConn("/")); body != "B" {
			t.Errorf("%s connection, a slow request still running: %q, want B", name, body)
		}
	}
	select {
	case err := <-handed:
		t.Fatalf("HandoffFunc returned with a request running: %v", err)
	default:
	}
	close(release)
	if body := <-slow; body != "A" {
		t.Fatalf("the slow request: %q", body)
	}
	if err := <-handed; err != nil {
		t.Fatal(err)
	}
	<-passed
	if _, body := do(t, busy, keepConn("/")); body != "B" {
		t.Errorf("busy connection after its request: %q, want B", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Shutdown(ctx)
	checkNoServerGoroutines(t)
}
