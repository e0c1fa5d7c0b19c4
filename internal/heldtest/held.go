// Package heldtest holds a long FastCGI request in progress, for tests of
// what a site does beside one (a reload, a stop). It is apart from testenv
// because it speaks FastCGI with responder's client, and responder's own
// tests use testenv.
package heldtest

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

// Held is a long request in progress: a FastCGI POST /echo to the hello
// site whose body is still being sent, so its handler waits until Release.
type Held struct {
	t     *testing.T
	body  *io.PipeWriter
	done  chan result
	ended *result
}

type result struct {
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
	h := &Held{t: t, body: bodyW, done: make(chan result, 1)}
	go func() {
		defer c.Close()
		defer bodyR.Close() // a request that failed takes no more body
		ctx, cancel := context.WithTimeout(context.Background(), 2*testenv.Patience)
		defer cancel()
		resp, err := c.Do(ctx, &responder.ClientRequest{Params: map[string]string{
			"REQUEST_METHOD": "POST", "REQUEST_URI": "/echo", "SCRIPT_NAME": "", "PATH_INFO": "/echo",
			"SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "example.com", "REMOTE_ADDR": "127.0.0.1"}, Stdin: bodyR})
		if err != nil {
			h.done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		h.done <- result{resp.StatusCode, string(b), err}
	}()
	// Twice the engine's output record: the handler echoes at least one.
	if _, err := bodyW.Write(make([]byte, 64<<10)); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	select {
	case <-echoed.got:
	case r := <-h.done:
		t.Fatalf("held request ended before its body: %d %v", r.code, r.err)
	case <-time.After(testenv.Patience):
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
		case <-time.After(testenv.Patience):
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
