package httpengine

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// httpConn is a connection net/http serves, which HandoffFunc can take back
// between two requests.
type httpConn struct {
	net.Conn
	e       *Engine
	release func()
	// fresh: nothing of the next request read yet. net/http reads ahead
	// (the first byte of the next request, while it ends the last), so a
	// connection is fresh only when nothing came in after the response.
	fresh      atomic.Bool
	readLast   atomic.Bool // a Read returned data after the last Write
	idle       atomic.Bool
	hijacked   atomic.Bool
	deadline   atomic.Pointer[time.Time] // the read deadline net/http set
	idleCutoff atomic.Pointer[time.Time] // during a hand-over
	closeOnce  sync.Once
}

// idleGrace is how long, during a hand-over, a connection that is idle
// but not fresh (net/http read ahead, or read the rest of an unread body)
// waits for the next request before it is closed.
const idleGrace = 2 * time.Second

func (c *httpConn) setState(st http.ConnState) {
	switch st {
	case http.StateIdle:
		c.fresh.Store(!c.readLast.Load())
		c.idle.Store(true)
		if c.e.handingOff.Load() {
			c.handingOff()
		}
	case http.StateActive:
		c.idle.Store(false)
	case http.StateHijacked:
		c.hijacked.Store(true)
	}
}

// handingOff wakes a fresh connection's wait for a request, to be passed
// on, or bounds an idle one's.
func (c *httpConn) handingOff() {
	switch {
	case c.fresh.Load():
		c.Conn.SetReadDeadline(longAgo)
	case c.idle.Load():
		t := time.Now().Add(idleGrace)
		c.idleCutoff.Store(&t)
		c.Conn.SetReadDeadline(c.readDeadline())
	}
}

// longAgo is a deadline that wakes a blocked Read at once.
var longAgo = time.Unix(1, 0)

func (c *httpConn) Read(p []byte) (int, error) {
	for {
		if c.e.handingOff.Load() {
			if c.fresh.Load() {
				return 0, io.EOF // net/http ends the connection quietly; Close passes it on
			}
			c.Conn.SetReadDeadline(c.readDeadline()) // undo a wake that came as a request began
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.fresh.Store(false)
			c.readLast.Store(true)
			c.idleCutoff.Store(nil)
			return n, err
		}
		if err != nil && c.e.handingOff.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			if d := c.readDeadline(); d.IsZero() || time.Now().Before(d) {
				continue // woken by HandoffFunc, not timed out
			}
		}
		return n, err
	}
}

func (c *httpConn) Write(p []byte) (int, error) {
	c.readLast.Store(false)
	return c.Conn.Write(p)
}

// readDeadline is net/http's read deadline, or during a hand-over the
// idle cutoff when that comes first.
func (c *httpConn) readDeadline() time.Time {
	var d time.Time
	if p := c.deadline.Load(); p != nil {
		d = *p
	}
	if p := c.idleCutoff.Load(); p != nil && (d.IsZero() || p.Before(d)) {
		d = *p
	}
	return d
}

func (c *httpConn) SetReadDeadline(t time.Time) error {
	c.deadline.Store(&t)
	if c.e.handingOff.Load() && c.fresh.Load() {
		return nil // Read returns at once anyway
	}
	return c.Conn.SetReadDeadline(c.readDeadline())
}

func (c *httpConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

// CloseWrite keeps net/http's half-close before it drops a connection
// whose request body it did not read.
func (c *httpConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *httpConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.e.forget(c, c.e.handingOff.Load() && c.fresh.Load())
		err = c.Conn.Close()
		c.release()
	})
	return err
}
