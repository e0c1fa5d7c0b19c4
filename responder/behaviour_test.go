package responder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

func echoHandler(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Write(b)
}

func TestServer_Body(t *testing.T) {
	tmp := t.TempDir()
	path := startServer(t, &Server{Handler: http.HandlerFunc(echoHandler), BodyBufferBytes: 4 << 10,
		MaxRequestBodyBytes: 2 << 20, TempDir: tmp})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, spills past 4 KiB
	tests := []struct {
		name   string
		body   []byte
		status int
	}{
		{"small form", []byte("a=1&b=2"), 200},
		{"1 MiB spills to disk", big, 200},
		{"over MaxRequestBodyBytes", bytes.Repeat(big, 3), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, path)
			resp, body := do(t, c, &ClientRequest{
				Params: withParams(map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": itoa(len(tc.body))}),
				Stdin:  bytes.NewReader(tc.body)})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 200 && body != string(tc.body) {
				t.Fatalf("echoed %d bytes, want %d", len(body), len(tc.body))
			}
			if n := tempFileCount(t, tmp); n != 0 {
				t.Errorf("%d spill files left in TempDir", n)
			}
		})
	}
}

// A handler that never reads its body, or takes its time, must not hold up
// the other requests multiplexed on the same connection.
func TestServer_Multiplex(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "stuck done")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	path := startServer(t, &Server{Handler: mux, BodyBufferBytes: 1 << 10})
	c := dialClient(t, path)
	stuckDone := make(chan string)
	go func() {
		body := bytes.Repeat([]byte("x"), 1<<20)
		_, b := do(t, c, &ClientRequest{KeepConn: true, Stdin: bytes.NewReader(body),
			Params: withParams(map[string]string{"REQUEST_URI": "/stuck", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": itoa(len(body))})})
		stuckDone <- b
	}()
	<-started
	for range 20 {
		_, b := do(t, c, &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": "/fast"})})
		if b != "fast" {
			t.Fatalf("fast request got %q", b)
		}
	}
	close(release)
	if b := <-stuckDone; b != "stuck done" {
		t.Fatalf("stuck request got %q", b)
	}
}

func TestServer_Streaming(t *testing.T) {
	next := make(chan struct{})
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			io.WriteString(w, "line "+itoa(i)+"\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			<-next
		}
	})})
	c := dialClient(t, path)
	resp, err := c.Do(context.Background(), &ClientRequest{Params: baseParams()})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for i := range 3 {
		n, err := resp.Body.Read(buf)
		if want := "line " + itoa(i) + "\n"; string(buf[:n]) != want {
			t.Fatalf("read %q (%v) while the handler waits, want %q", buf[:n], err, want)
		}
		next <- struct{}{}
	}
	if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 {
		t.Fatalf("trailing %q", rest)
	}
	if resp.Header.Get("Content-Length") != "" {
		t.Errorf("streamed response has Content-Length %q", resp.Header.Get("Content-Length"))
	}
}

func TestServer_AbortCancelsContext(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan error, 1)
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		notify(started)
		<-r.Context().Done()
		cancelled <- context.Cause(r.Context())
		_, err := io.WriteString(w, "dropped")
		if err == nil {
			t.Error("write after abort succeeded")
		}
	})})

	t.Run("FCGI_ABORT_REQUEST", func(t *testing.T) {
		rc := dialRaw(t, path)
		rc.send(requestRecords(7, true, baseParams()))
		<-started
		rc.send(appendRecord(nil, typeAbortRequest, 7, nil))
		if err := <-cancelled; !errors.Is(err, errAborted) {
			t.Fatalf("cause %v, want errAborted", err)
		}
		recs := rc.readUntilEnd(7)
		if len(recs) != 1 || recs[0].typ != typeEndRequest {
			t.Fatalf("after abort got records %v, want one FCGI_END_REQUEST", recs)
		}
		// The connection stays usable (keep-conn): the marker is
		// answered, and nothing else is sent before it.
		if recs := rc.exchange(nil); len(recs) != 0 {
			t.Fatalf("after abort: %v", recs)
		}
	})
	t.Run("peer vanishes", func(t *testing.T) {
		rc := dialRaw(t, path)
		rc.send(requestRecords(1, false, baseParams()))
		<-started
		rc.Close()
		if err := <-cancelled; !errors.Is(err, errConnLost) {
			t.Fatalf("cause %v, want errConnLost", err)
		}
	})
	t.Run("abort before params end", func(t *testing.T) {
		rc := dialRaw(t, path)
		rc.send(beginRecord(3, RoleResponder, false))
		rc.send(appendRecord(nil, typeAbortRequest, 3, nil))
		recs, err := rc.readUntilClose(30 * time.Second)
		if len(recs) != 1 || recs[0].typ != typeEndRequest || err != io.EOF {
			t.Fatalf("got %v, %v; want one FCGI_END_REQUEST then close", recs, err)
		}
	})
}

func TestServer_Management(t *testing.T) {
	path := startServer(t, &Server{MaxConns: 7, MaxConcurrentRequests: 9, Handler: http.NotFoundHandler()})
	tests := []struct {
		name string
		in   []byte
		want []rec
	}{
		{"get values answers exactly what is asked",
			appendRecord(nil, typeGetValues, 0, appendPair(appendPair(appendPair(nil, "FCGI_MAX_REQS", ""), "FCGI_UNKNOWN", ""), "FCGI_MAX_CONNS", "")),
			[]rec{{typeGetValuesResult, 0, string(appendPair(appendPair(nil, "FCGI_MAX_REQS", "9"), "FCGI_MAX_CONNS", "7"))}}},
		{"mpxs", appendRecord(nil, typeGetValues, 0, appendPair(nil, "FCGI_MPXS_CONNS", "")),
			[]rec{{typeGetValuesResult, 0, string(appendPair(nil, "FCGI_MPXS_CONNS", "1"))}}},
		{"unknown management type", appendRecord(nil, 42, 0, []byte("?")),
			[]rec{{typeUnknownType, 0, "\x2a\x00\x00\x00\x00\x00\x00\x00"}}},
		{"unknown application type", appendRecord(nil, 99, 5, nil),
			[]rec{{typeUnknownType, 0, "\x63\x00\x00\x00\x00\x00\x00\x00"}}},
		{"unknown role", beginRecord(4, 9, true),
			[]rec{{typeEndRequest, 4, "\x00\x00\x00\x00\x03\x00\x00\x00"}}},
		{"authorizer refused when not configured", beginRecord(4, RoleAuthorizer, true),
			[]rec{{typeEndRequest, 4, "\x00\x00\x00\x00\x03\x00\x00\x00"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, path)
			recs := rc.exchange(tc.in)
			if len(recs) != len(tc.want) {
				t.Fatalf("got %v, want %v", recs, tc.want)
			}
			for i := range recs {
				if recs[i] != tc.want[i] {
					t.Errorf("record %d: %+q, want %+q", i, recs[i].content, tc.want[i].content)
				}
			}
		})
	}
}

func TestServer_Roles(t *testing.T) {
	s := &Server{
		Handler: http.NotFoundHandler(),
		Authorizer: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer good" {
				http.Error(w, "no entry", http.StatusForbidden)
				return
			}
			SetVariable(w, "USER_ID", "42")
			w.Header().Set("Location", "/login") // no local redirect in this role
		}),
		Filter: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			data, _ := io.ReadAll(FilterData(r))
			n, _ := Param(r, "FCGI_DATA_LENGTH")
			io.WriteString(w, strings.ToUpper(string(data))+" "+n)
		}),
	}
	path := startServer(t, s)
	c := dialClient(t, path)
	// The variable's name goes out as set: the web server takes it as is.
	rc := dialRaw(t, path)
	rc.send(append(beginRecord(1, RoleAuthorizer, false), paramsRecords(1, withParams(map[string]string{"HTTP_AUTHORIZATION": "Bearer good"}))...))
	if recs := rc.readUntilEnd(1); len(recs) < 1 || recs[0].typ != typeStdout ||
		!strings.Contains(recs[0].content, "\r\nVariable-USER_ID: 42\r\n") || !strings.Contains(recs[0].content, "\r\nLocation: /login\r\n") {
		t.Errorf("authorized: %v", recs)
	}
	// A denial's header block and body come in one record, as
	// mod_authnz_fcgi needs to pass the body on.
	rc = dialRaw(t, path)
	rc.send(append(beginRecord(1, RoleAuthorizer, false), paramsRecords(1, baseParams())...))
	if recs := rc.readUntilEnd(1); len(recs) < 1 || recs[0].typ != typeStdout ||
		!strings.HasPrefix(recs[0].content, "Status: 403 Forbidden\r\n") || !strings.HasSuffix(recs[0].content, "\r\n\r\nno entry\n") {
		t.Errorf("unauthorized: %v", recs)
	}
	resp, body := do(t, c, &ClientRequest{Role: RoleFilter, Params: withParams(map[string]string{"FCGI_DATA_LENGTH": "5"}),
		Data: strings.NewReader("hello")})
	if resp.StatusCode != 200 || body != "HELLO 5" {
		t.Errorf("filter: %d %q", resp.StatusCode, body)
	}
}

func TestServer_Panic(t *testing.T) {
	logger, logs := newTestLog(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Half", "set")
		io.WriteString(w, "half")
		panic("boom early")
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("boom late")
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	path := startServer(t, &Server{Handler: mux, Logger: logger})

	c := dialClient(t, path)
	resp, body := do(t, c, &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": "/early"})})
	if resp.StatusCode != 500 || body != "Internal Server Error\n" || resp.Header.Get("X-Half") != "" {
		t.Errorf("panic before the header: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// The connection survives and serves the next request.
	if _, body := do(t, c, &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": "/ok"})}); body != "ok" {
		t.Errorf("after a panic: %q", body)
	}
	if !strings.Contains(logs(), "boom early") || !strings.Contains(logs(), "goroutine") {
		t.Errorf("panic and stack not logged: %s", logs())
	}

	// After the header went out the web server must see a failure, not a
	// short body passed off as complete.
	resp, err := c.Do(context.Background(), &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": "/late"})})
	if err != nil {
		t.Fatal(err)
	}
	body2, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("late panic: body %q read as complete", body2)
	}
}

func TestServer_Overloaded(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	path := startServer(t, &Server{MaxConcurrentRequests: 1, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		notify(started)
		<-release
	})})
	c := dialClient(t, path)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, c, &ClientRequest{KeepConn: true, Params: baseParams()})
	}()
	<-started
	c2 := dialClient(t, path)
	_, err := c2.Do(context.Background(), &ClientRequest{KeepConn: true, Params: baseParams()})
	var ere *EndRequestError
	if !errors.As(err, &ere) || !ere.Overloaded() {
		t.Fatalf("second request: %v, want FCGI_OVERLOADED", err)
	}
	close(release)
	<-done
	// Capacity comes back.
	do(t, c2, &ClientRequest{KeepConn: true, Params: baseParams()})
}

// One connection multiplexing requests that never finish takes at most
// MaxRequestsPerConn of the MaxConcurrentRequests slots: another
// connection's request is still served.
func TestServer_MaxRequestsPerConn(t *testing.T) {
	const perConn = 3
	path := startServer(t, &Server{MaxConcurrentRequests: 10, MaxRequestsPerConn: perConn, Handler: http.NotFoundHandler()})
	hog := dialRaw(t, path)
	var b []byte
	for id := uint16(1); id <= 20; id++ {
		b = append(b, beginRecord(id, RoleResponder, true)...) // parameters never end
	}
	hog.send(append(b, marker...))
	refused := 0
	for _, r := range hog.readUntil(isMarkerAnswer) {
		if r.typ == typeEndRequest && r.content[4] == statusOverloaded {
			refused++
		}
	}
	if refused != 20-perConn {
		t.Errorf("%d of 20 unfinished requests on one connection refused, want %d", refused, 20-perConn)
	}
	if resp, _ := do(t, dialClient(t, path), &ClientRequest{Params: baseParams()}); resp.StatusCode != 404 {
		t.Errorf("another connection's request: %d, want it served", resp.StatusCode)
	}
}

// The parameters of requests that never finish hold at most the server's
// budget together: beyond it a request is answered 503, and the budget
// comes back when they go.
func TestServer_ParamsBudget(t *testing.T) {
	s := &Server{MaxParamsBytes: 64 << 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	s.cfg.paramsBudget = 200 << 10
	path := startServer(t, s)
	pad := strings.Repeat("p", 60<<10)
	hog := dialRaw(t, path)
	var b []byte
	for id := uint16(1); id <= 3; id++ { // 180 KiB, never ended
		b = append(b, beginRecord(id, RoleResponder, true)...)
		b = appendStream(b, typeParams, id, appendPair(nil, "HTTP_X_PAD", pad))
	}
	hog.send(append(b, marker...))
	hog.readUntil(isMarkerAnswer)
	status := func() int {
		resp, _ := do(t, dialClient(t, path), &ClientRequest{Params: withParams(map[string]string{"HTTP_X_PAD": pad})})
		return resp.StatusCode
	}
	if got := status(); got != 503 {
		t.Errorf("a request past the budget: %d, want 503", got)
	}
	hog.Close()
	if !waitUntil(func() bool { return status() == 200 }) {
		t.Error("the budget did not come back after the connection holding it closed")
	}
}

func TestServer_ParamLimits(t *testing.T) {
	path := startServer(t, &Server{MaxParamsBytes: 4 << 10, MaxParams: 40, Handler: http.NotFoundHandler()})
	many := baseParams()
	for i := range 30 {
		many["HTTP_X_"+itoa(i)] = "v"
	}
	tests := []struct {
		name   string
		params map[string]string
		status int
	}{
		{"bytes", withParams(map[string]string{"HTTP_COOKIE": strings.Repeat("c", 5<<10)}), 431},
		{"count", many, 431},
		{"bad content length", withParams(map[string]string{"CONTENT_LENGTH": "-3"}), 400},
		{"bad request uri", withParams(map[string]string{"REQUEST_URI": "no-slash"}), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, path)
			resp, _ := do(t, c, &ClientRequest{Params: tc.params})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestServer_AllowedAddrs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		listen  string
		allowed []netip.Addr
		served  bool
	}{
		{"listed", "127.0.0.1:0", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, true},
		{"not listed", "127.0.0.1:0", []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")}, false},
		{"empty list allows nobody", "127.0.0.1:0", []netip.Addr{}, false},
		{"IPv6 listed", "[::1]:0", []netip.Addr{netip.MustParseAddr("::1")}, true},
		{"IPv6 not listed", "[::1]:0", []netip.Addr{netip.MustParseAddr("127.0.0.1")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{AllowedAddrs: tc.allowed, Handler: http.NotFoundHandler()}
			s.Logger, _ = newTestLog(t)
			l, err := net.Listen("tcp", tc.listen)
			if err != nil {
				t.Skipf("no %s on this machine: %v", tc.listen, err)
			}
			go s.Serve(l)
			defer s.Close()
			c, err := Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Do(context.Background(), &ClientRequest{Params: baseParams()})
			if served := err == nil; served != tc.served {
				t.Fatalf("served %v (err %v), want %v", served, err, tc.served)
			}
		})
	}
	if got, err := ParseWebServerAddrs(" 10.0.0.1, ::1 ,bogus"); len(got) != 2 || got[1] != netip.MustParseAddr("::1") ||
		err == nil || !strings.Contains(err.Error(), `"bogus" is not an IP address`) {
		t.Errorf("ParseWebServerAddrs: %v, %v", got, err)
	}
	if got, _ := ParseWebServerAddrs("bogus"); got == nil || len(got) != 0 {
		t.Errorf("an all-bad list must allow nobody, got %v", got)
	}
}

func TestServer_Shutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/quick", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "quick") })
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	s := &Server{Handler: mux}
	s.Logger, _ = newTestLog(t)
	l, err := net.Listen("unix", t.TempDir()+"/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	dial := dialer(t, l)
	quick := &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": "/quick"})}
	busy, idle, fresh := dial(), dial(), dial()
	do(t, idle, quick)
	var body string
	var wg sync.WaitGroup
	wg.Go(func() {
		_, body = do(t, busy, &ClientRequest{KeepConn: true, Params: withParams(map[string]string{"REQUEST_URI": "/block"})})
	})
	<-started
	waitConns(t, s, 3) // fresh too: accepted, not in the backlog

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a request in flight returned %v, want DeadlineExceeded", err)
	}
	// A connection accepted just before Shutdown gets its first request
	// served: the web server sent it believing the connection good. First,
	// as Shutdown waits only freshGrace for it.
	if _, b := do(t, fresh, quick); b != "quick" {
		t.Errorf("first request of a fresh connection during Shutdown: %q", b)
	}
	if _, err := net.Dial("unix", l.Addr().String()); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
	if _, err := idle.Do(context.Background(), quick); err == nil {
		t.Error("kept-alive idle connection still served after Shutdown")
	}
	close(release)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	if body != "finished" {
		t.Errorf("in-flight request got %q, want it finished", body)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	checkNoServerGoroutines(t)
}

func TestServer_Stderr(t *testing.T) {
	path := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(Stderr(r), "note for the vhost log")
		io.WriteString(w, "ok")
	})})
	c := dialClient(t, path)
	resp, body := do(t, c, &ClientRequest{Params: baseParams()})
	if body != "ok" || resp.Stderr() != "note for the vhost log" {
		t.Fatalf("body %q stderr %q", body, resp.Stderr())
	}
	if w := Stderr(&http.Request{}); w != io.Discard {
		t.Error("Stderr outside FastCGI should discard")
	}
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

// stallingListener holds each accepted connection until released, to
// stand in for a Serve loop that Shutdown catches between Accept and
// tracking the connection.
type stallingListener struct {
	net.Listener
	accepted, release, closed chan struct{}
}

func (l *stallingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
		<-l.release
	}
	return c, err
}

func (l *stallingListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return l.Listener.Close()
}

// Shutdown must not return while a Serve loop holds a connection it has
// accepted: under a re-exec the process would end and drop the request
// the web server already sent on it.
func TestServer_ShutdownWaitsForAcceptedConn(t *testing.T) {
	var answered atomic.Bool
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "served")
		answered.Store(true)
	})}
	s.Logger, _ = newTestLog(t)
	inner, err := net.Listen("unix", t.TempDir()+"/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	l := &stallingListener{Listener: inner, accepted: make(chan struct{}), release: make(chan struct{}), closed: make(chan struct{})}
	go s.Serve(l)
	c, err := Dial("unix", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reply := make(chan string, 1)
	go func() {
		_, body := do(t, c, &ClientRequest{Params: baseParams()})
		reply <- body
	}()
	<-l.accepted
	shutdownDone := make(chan bool, 1)
	go func() {
		s.Shutdown(context.Background())
		shutdownDone <- answered.Load()
	}()
	<-l.closed
	// No request can be answered before the release: a Shutdown that
	// returned early reports false below, however fast the machine.
	close(l.release)
	if body := <-reply; body != "served" {
		t.Errorf("request on the connection accepted during Shutdown: %q", body)
	}
	if !<-shutdownDone {
		t.Error("Shutdown returned before the request was answered")
	}
}

// A connection is fresh, and kept for its first request during Shutdown,
// until a request has begun on it: a management record first (here one
// whose answer the server is still writing as Shutdown comes) does not make
// it idle.
func TestServer_ShutdownKeepsConnUntilFirstRequest(t *testing.T) {
	// In a bubble, whose clock stands still while the client is on its way:
	// Shutdown waits freshGrace for the first request, however slow the machine.
	synctest.Test(t, func(t *testing.T) {
		s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served") })}
		s.Logger, _ = newTestLog(t)
		l := testenv.NewPipeListener()
		go s.Serve(l)
		client := l.Dial()
		defer client.Close()
		var q []byte
		q = appendPair(q, "FCGI_MPXS_CONNS", "")
		// net.Pipe is unbuffered: the server has read the query once this
		// returns, and blocks writing the answer until the client reads.
		if _, err := client.Write(appendRecord(nil, typeGetValues, 0, q)); err != nil {
			t.Fatal(err)
		}
		shutdownDone := make(chan struct{})
		go func() {
			s.Shutdown(context.Background())
			close(shutdownDone)
		}()
		defer func() { s.Close(); <-shutdownDone }()
		<-l.Closed()
		c := NewClient(client)
		if v, err := c.GetValues(context.Background(), "FCGI_MPXS_CONNS"); err != nil || v["FCGI_MPXS_CONNS"] != "1" {
			t.Fatalf("GetValues: %v %v", v, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.Do(ctx, &ClientRequest{Params: baseParams()})
		if err != nil {
			t.Fatalf("first request after a management record, during Shutdown: %v", err)
		}
		if body, _ := io.ReadAll(resp.Body); string(body) != "served" {
			t.Errorf("body %q", body)
		}
	})
}

// Peers that connect and send nothing do not hold MaxConns: with every slot
// taken, one silent for ten seconds is closed and the request waiting in the
// backlog is served, long before IdleTimeout would have freed a slot.
func TestServer_SilentConnsDoNotHoldMaxConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Server{MaxConns: 2, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served") })}
		var logged func() string
		s.Logger, logged = newTestLog(t)
		l := testenv.NewPipeListener()
		go s.Serve(l)
		defer s.Close()
		silent := []net.Conn{l.Dial(), l.Dial()}
		start := time.Now()
		c := NewClient(l.Dial()) // waits in the backlog
		resp, err := c.Do(context.Background(), &ClientRequest{Params: baseParams()})
		if err != nil {
			t.Fatal(err)
		}
		if body, _ := io.ReadAll(resp.Body); string(body) != "served" {
			t.Errorf("body %q", body)
		}
		if waited := time.Since(start); waited >= DefaultIdleTimeout {
			t.Errorf("the request waited %v, as long as IdleTimeout", waited)
		}
		for i, sc := range silent {
			if _, err := sc.Read(make([]byte, 1)); err == nil {
				t.Errorf("silent connection %d still open", i)
			}
		}
		if !strings.Contains(logged(), "no request within 10s while MaxConns connections are open") {
			t.Error("no log line for the silent connections closed")
		}
	})
}

// A client must give up when its context ends, even on an application
// that never answers (a hung process, a request lost on the wire).
func TestClient_ContextEndsWait(t *testing.T) {
	l, err := net.Listen("unix", t.TempDir()+"/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(io.Discard, c) // reads everything, answers nothing
		}
	}()
	c, err := Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, &ClientRequest{Params: baseParams()}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do on a silent application: %v, want DeadlineExceeded", err)
	}
}

// Bodies spilled to disk take at most MaxSpillBytes together: past it a
// body waits in its connection until room is made, and none is lost.
func TestServer_SpillBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		s := &Server{BodyBufferBytes: 1 << 10, MaxSpillBytes: 16 << 10, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release // reads nothing until then: its body spills
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, n)
		})}
		l := testenv.NewPipeListener()
		go s.Serve(l)
		defer s.Close()
		body := bytes.Repeat([]byte("b"), 12<<10)
		results := make(chan string, 2)
		for range 2 {
			go func() {
				c := NewClient(l.Dial())
				resp, err := c.Do(context.Background(), &ClientRequest{Stdin: bytes.NewReader(body),
					Params: withParams(map[string]string{"REQUEST_METHOD": "POST", "CONTENT_LENGTH": strconv.Itoa(len(body))})})
				if err != nil {
					results <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				results <- string(b)
			}()
		}
		time.Sleep(time.Second) // the bubble's clock: past spillDelay, when unread bodies spill
		synctest.Wait()
		s.spill.mu.Lock()
		held := s.spill.held
		s.spill.mu.Unlock()
		if held > 16<<10 {
			t.Errorf("%d KiB spilled, MaxSpillBytes is 16 KiB", held>>10)
		}
		close(release)
		for range 2 {
			if got := <-results; got != strconv.Itoa(len(body)) {
				t.Errorf("handler read %s bytes, want %d", got, len(body))
			}
		}
	})
}
