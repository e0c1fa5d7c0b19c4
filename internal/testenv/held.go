package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/responder"
)

// Held is a long request in progress: a FastCGI POST /echo to the hello
// site whose body is still being sent, so its handler waits until Release.
type Held struct {
	t     *testing.T
	body  *io.PipeWriter
	done  chan heldResult
	ended *heldResult
}

type heldResult struct {
	code int
	body string
	err  error
}

// HoldEcho starts a held request on network addr and returns once part of
// the echo has come back: the request is then in the handler.
func HoldEcho(t *testing.T, network, addr string) *Held {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	echoed := &firstRead{Conn: conn, got: make(chan struct{})}
	c := responder.NewClient(echoed)
	bodyR, bodyW := io.Pipe()
	h := &Held{t: t, body: bodyW, done: make(chan heldResult, 1)}
	go func() {
		defer c.Close()
		defer bodyR.Close() // a request that failed takes no more body
		ctx, cancel := context.WithTimeout(context.Background(), 2*Patience)
		defer cancel()
		resp, err := c.Do(ctx, &responder.ClientRequest{Params: map[string]string{
			"REQUEST_METHOD": "POST", "REQUEST_URI": "/echo", "SCRIPT_NAME": "", "PATH_INFO": "/echo",
			"SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "example.com", "REMOTE_ADDR": "127.0.0.1"}, Stdin: bodyR})
		if err != nil {
			h.done <- heldResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		h.done <- heldResult{resp.StatusCode, string(b), err}
	}()
	// Twice the engine's output record: the handler echoes at least one.
	if _, err := bodyW.Write(make([]byte, 64<<10)); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	select {
	case <-echoed.got:
	case r := <-h.done:
		t.Fatalf("held request ended before its body: %d %v", r.code, r.err)
	case <-time.After(Patience):
		t.Fatal("no echo of the body sent")
	}
	return h
}

// Ended reports whether the request ended, though not released.
func (h *Held) Ended() bool {
	if h.ended != nil {
		return true
	}
	select {
	case r := <-h.done:
		h.ended = &r
		return true
	default:
		return false
	}
}

// Release ends the body and returns the response.
func (h *Held) Release() (code int, body string, err error) {
	h.t.Helper()
	h.body.Close()
	if h.ended == nil {
		select {
		case r := <-h.done:
			h.ended = &r
		case <-time.After(Patience):
			h.t.Fatal("no response after the body ended")
		}
	}
	return h.ended.code, h.ended.body, h.ended.err
}

// CheckReleased releases h and fails t unless it is answered 200 with the
// whole body echoed: finished by the code it started in.
func (h *Held) CheckReleased(t *testing.T) {
	t.Helper()
	if code, body, err := h.Release(); err != nil || code != 200 || len(body) != 64<<10 {
		t.Errorf("the long request: %d, %d bytes, %v; want 200 and the 64 KiB echoed", code, len(body), err)
	}
}

// firstRead is a connection that says when its first bytes arrive.
type firstRead struct {
	net.Conn
	once sync.Once
	got  chan struct{}
}

func (c *firstRead) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() { close(c.got) })
	}
	return n, err
}

// Children are the PIDs of the processes whose parent is pid.
func Children(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// Slow is a GET /slow?ms=N to the hello site over HTTP, in progress: a
// long request through a web server that buffers request bodies, which
// ends by itself after N ms.
type Slow struct {
	uri   string
	ms    int
	done  chan heldResult
	ended *heldResult
}

// StartSlow sends the request to base and returns once the site, whose
// log is logPath, has it in its handler.
func StartSlow(t *testing.T, base, logPath string, ms int) *Slow {
	t.Helper()
	s := &Slow{uri: fmt.Sprintf("/slow?ms=%d&across=1", ms), ms: ms, done: make(chan heldResult, 1)}
	go func() {
		resp, err := (&http.Client{Timeout: Patience + time.Duration(ms)*time.Millisecond}).Get(base + s.uri)
		if err != nil {
			s.done <- heldResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.done <- heldResult{resp.StatusCode, string(b), err}
	}()
	WaitFor(t, "the slow request to reach the application", func() bool { return loggedSlow(logPath, s.uri) })
	return s
}

// Ended reports whether the request was answered, or failed.
func (s *Slow) Ended() bool {
	if s.ended != nil {
		return true
	}
	select {
	case r := <-s.done:
		s.ended = &r
		return true
	default:
		return false
	}
}

// CheckAnswered waits for the answer and fails t unless it is 200 with the
// handler's whole answer.
func (s *Slow) CheckAnswered(t *testing.T) {
	t.Helper()
	if s.ended == nil {
		select {
		case r := <-s.done:
			s.ended = &r
		case <-time.After(Patience + time.Duration(s.ms)*time.Millisecond):
			t.Fatalf("%s: no answer", s.uri)
		}
	}
	if r, want := s.ended, fmt.Sprintf("slept %d ms\n", s.ms); r.err != nil || r.code != 200 || r.body != want {
		t.Errorf("the request in flight: %d %q %v; want 200 %q", r.code, r.body, r.err, want)
	}
}
