package emulate

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
)

// Requests larger than Apache's LimitRequestLine, LimitRequestFieldSize
// and LimitRequestFields (8190, 8190, 100 on Debian), and Apache's answers
// (measured on 2.4.71: a line one byte longer than the limit passes).
var sizeCases = []struct {
	name    string
	request string
	status  int
	reason  string
}{
	{"request line of 8191 bytes", "GET /style.css?" + strings.Repeat("a", 8191-len("GET /style.css? HTTP/1.1")) + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, ""},
	{"request line of 8192 bytes", "GET /style.css?" + strings.Repeat("a", 8192-len("GET /style.css? HTTP/1.1")) + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "The requested URL's length exceeds the capacity"},
	{"request line of 16 KiB", "GET /" + strings.Repeat("a", 16<<10) + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, "The requested URL's length exceeds the capacity"},
	{"header field of 8191 bytes", "GET /style.css HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("b", 8191-len("X-Big: ")) + "\r\n\r\n", 200, ""},
	{"header field of 8 KiB", "GET /style.css HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("b", 8192-len("X-Big: ")) + "\r\n\r\n", 400, "Size of a request header field exceeds server limit."},
	{"cookie of 64 KiB", "GET /style.css HTTP/1.1\r\nHost: localhost\r\nCookie: " + strings.Repeat("c", 64<<10) + "\r\n\r\n", 400, "Size of a request header field exceeds server limit."},
	{"100 header fields", "GET /style.css HTTP/1.1\r\nHost: localhost\r\n" + fields(99) + "\r\n", 200, ""},
	{"101 header fields", "GET /style.css HTTP/1.1\r\nHost: localhost\r\n" + fields(100) + "\r\n", 400, "The number of request header fields exceeds this server's limit."},
}

func fields(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("X-Field-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + ": 1\r\n")
	}
	return b.String()
}

// rawDo sends request on a new connection and returns the answer, with
// its body read; ok is false when the server closed without one.
func rawDo(t *testing.T, conn net.Conn, request string) (resp *http.Response, body string, ok bool) {
	t.Helper()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testenv.Patience)) // bounds a hang only
	go io.WriteString(conn, request)                   // the server may answer before it has read it all
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, "", false
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), true
}

func checkSizes(t *testing.T, addr string) {
	for _, tc := range sizeCases {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		resp, body, ok := rawDo(t, c, tc.request)
		if !ok {
			t.Errorf("%s: closed without an answer, want %d", tc.name, tc.status)
		} else if resp.StatusCode != tc.status || !strings.Contains(body, tc.reason) {
			t.Errorf("%s: %d, want %d saying %q:\n%.300s", tc.name, resp.StatusCode, tc.status, tc.reason, body)
		}
	}
}

func TestEmulator_RequestSizes(t *testing.T) {
	dir := t.TempDir()
	layoutAnswers(t, dir)
	log := &syncWriter{}
	checkSizes(t, strings.TrimPrefix(serveSite(t, &Emulator{Root: dir, Log: log}), "http://"))
	for _, want := range []string{"LimitRequestLine 8190", "LimitRequestFieldSize 8190", "LimitRequestFields 100"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not name %s:\n%s", want, log)
		}
	}
}

// A client that sends its request slowly: head at once, then one byte of
// drip each pause until the server answers or closes.
type slowClient struct {
	name  string
	head  string
	drip  string
	count int // drips at most; then the rest of the request, if any
	rest  string
}

// timeoutCases are slow clients and Apache's answers to them (0: closed
// without one): mod_reqtimeout cuts the headers with 408, a body mod_fcgid
// reads with 500 (mod_fcgid: can't get data from http client), a body
// Apache's own handler drops with 408, and closes a connection whose
// request line never came whole.
var timeoutCases = []struct {
	client slowClient
	status int
}{
	{slowClient{name: "request line", head: "GE", drip: "T", count: 1 << 20}, 0},
	{slowClient{name: "header", head: "GET /style.css HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", drip: "a", count: 1 << 20}, 408},
	{slowClient{name: "body to the application", head: "POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n", drip: "a", count: 1 << 20}, 500},
	{slowClient{name: "chunked body to the application", head: "POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", drip: "1\r\na\r\n", count: 1 << 20}, 500},
	{slowClient{name: "body to a file", head: "POST /style.css HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n", drip: "a", count: 1 << 20}, 408},
}

// run sends the request through dial, a pause between drips, and returns
// the answer's status (0 for none) and when it came.
func (s slowClient) run(dial func() net.Conn, pause time.Duration) (int, time.Duration) {
	c := dial()
	defer c.Close()
	start := time.Now()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		status := 0
		if err == nil {
			status = resp.StatusCode
			io.Copy(io.Discard, resp.Body)
		}
		answered <- status
		c.Close() // ends a write the server no longer reads
	}()
	written := make(chan struct{})
	go func() {
		defer close(written)
		if s.head == "" {
			return
		}
		if _, err := io.WriteString(c, s.head); err != nil {
			return
		}
		for range s.count {
			time.Sleep(pause) // paces the client only
			if _, err := io.WriteString(c, s.drip); err != nil {
				return
			}
		}
		io.WriteString(c, s.rest)
	}()
	status := <-answered
	took := time.Since(start)
	<-written
	return status, took
}

// TestEmulator_ReadTimeouts runs 50 of each of timeoutCases' clients, a
// byte every 2 s, on the emulation's own timers with Debian's stock
// limits (in a synctest bubble, where time passes only when every
// goroutine waits): each gets Apache's answer after the 20 s
// mod_reqtimeout allows. Headers that come at 1000 bytes a second are
// given up to 40 s: those that end after 30 s are served, those that go
// on are cut at 40 s. A connection that sends nothing is closed without
// an answer after 50 s, as Linux holds it 30 s for Apache before its
// header timeout starts.
func TestEmulator_ReadTimeouts(t *testing.T) {
	const clients = 50
	dir := t.TempDir()
	layoutAnswers(t, dir)
	line := "X-Field: " + strings.Repeat("a", 1000-len("X-Field: \r\n")) + "\r\n"
	synctest.Test(t, func(t *testing.T) {
		l := testenv.NewPipeListener()
		log := &syncWriter{}
		e := &Emulator{Root: dir, Log: log}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Serve(ctx, l) }()
		var wg sync.WaitGroup
		check := func(c slowClient, pause time.Duration, status int, from, to time.Duration) {
			wg.Go(func() {
				got, took := c.run(func() net.Conn {
					conn := l.Dial()
					conn.SetDeadline(time.Now().Add(time.Minute)) // bounds a client not cut
					return conn
				}, pause)
				if got != status || took < from || took > to {
					t.Errorf("%s: %d after %s, want %d after %s to %s", c.name, got, took, status, from, to)
				}
			})
		}
		for _, tc := range timeoutCases {
			for range clients {
				check(tc.client, 2*time.Second, tc.status, 20*time.Second, 25*time.Second)
			}
		}
		for range clients {
			check(slowClient{name: "silent"}, 0, 0, 50*time.Second, 53*time.Second)
		}
		head := "GET /style.css HTTP/1.1\r\nHost: localhost\r\n"
		check(slowClient{name: "headers at 1000 bytes/s for 30 s", head: head, drip: line, count: 30, rest: "\r\n"}, time.Second, 200, 30*time.Second, 31*time.Second)
		check(slowClient{name: "headers at 1000 bytes/s for 60 s", head: head, drip: line, count: 60, rest: "\r\n"}, time.Second, 408, 40*time.Second, 43*time.Second)
		wg.Wait()
		cancel()
		<-done
		if !strings.Contains(log.String(), "mod_reqtimeout (body=20,MinRate=500)") || !strings.Contains(log.String(), "mod_reqtimeout (header=20-40,MinRate=500)") {
			t.Errorf("the log does not explain the cuts:\n%s", log)
		}
	})
}

// shortLimits are the stock limits with mod_reqtimeout's shortened ten
// times, as debianStock + shortTimeouts sets them for Apache.
var shortLimits = readLimits{line: 8190, field: 8190, fields: 100, header: 2 * time.Second, headerMax: 4 * time.Second, body: 2 * time.Second, minRate: 500, accept: 30 * time.Second}

const shortTimeouts = "RequestReadTimeout header=2-4,MinRate=500 body=2,MinRate=500\n"

// checkTimeouts runs one of each of timeoutCases' clients on addr, at
// once, a byte every 500 ms.
func checkTimeouts(t *testing.T, addr string) {
	var wg sync.WaitGroup
	for _, tc := range timeoutCases {
		wg.Go(func() {
			status, _ := tc.client.run(func() net.Conn {
				c, err := net.DialTimeout("tcp", addr, testenv.Patience)
				if err != nil {
					t.Error(err)
					return nil
				}
				c.SetDeadline(time.Now().Add(testenv.Patience)) // bounds a hang only
				return c
			}, 500*time.Millisecond)
			if status != tc.status {
				t.Errorf("slow %s: %d, want %d", tc.client.name, status, tc.status)
			}
		})
	}
	wg.Wait()
}

func TestEmulator_ReadTimeoutsAsApache(t *testing.T) {
	dir := t.TempDir()
	layoutAnswers(t, dir)
	checkTimeouts(t, strings.TrimPrefix(serveSite(t, &Emulator{Root: dir, limits: &shortLimits}), "http://"))
}

// The timeouts cut only the reading of a request: an application that
// answers later than them, after a body or without one, and a kept-alive
// connection idle longer than them between two requests, are served.
func TestEmulator_ReadTimeoutsSpareTheRest(t *testing.T) {
	dir := t.TempDir()
	layoutAnswers(t, dir)
	lim := shortLimits
	lim.header, lim.headerMax, lim.body = 500*time.Millisecond, time.Second, 500*time.Millisecond
	addr := strings.TrimPrefix(serveSite(t, &Emulator{Root: dir, limits: &lim}), "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testenv.Patience)) // bounds a hang only
	br := bufio.NewReader(c)
	for i, req := range []string{
		"GET /slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
		"GET /slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"GET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n",
	} {
		if i == 2 {
			time.Sleep(1500 * time.Millisecond) // idle, kept alive, longer than the header timeout
		}
		io.WriteString(c, req)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("request %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
}
