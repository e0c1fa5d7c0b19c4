package responder

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// handoffDeadline, being in the past, stops a blocked read at once.
var handoffDeadline = time.Unix(1, 0)

// Handoff stops the server like Shutdown, but a kept-alive connection
// that is idle is not closed: it is returned, as a duplicate of its
// descriptor, for another Server (in a re-executed process, say) to serve
// with ServeConn. A web server that pools connections (Apache
// mod_proxy_fcgi with enablereuse, nginx with upstream keepalive) may send
// a request on a pooled connection at any moment; closing one can lose
// that request, passing it on cannot. A connection accepted but not yet
// read from is passed on too, with its request still in the socket.
// Connections without FCGI_KEEP_CONN end as under Shutdown, and so do
// those of NewSCGIListener. If ctx ends first, Handoff returns what it
// has and ctx.Err(); call Close for the rest.
func (s *Server) Handoff(ctx context.Context) ([]*os.File, error) {
	var mu sync.Mutex
	var files []*os.File
	err := s.HandoffFunc(ctx, func(f *os.File) {
		mu.Lock()
		files = append(files, f)
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	return files, err
}

// HandoffFunc is Handoff passing each connection to pass as soon as it is
// idle, rather than all at the end: to a server already serving beside
// this one, which answers what arrives on it while the requests here
// finish. pass owns the file, and may be called from several goroutines at
// once until HandoffFunc returns.
func (s *Server) HandoffFunc(ctx context.Context, pass func(*os.File)) error {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	s.handingOff = true
	s.pass = pass
	lerr := s.closeListenersLocked()
	for c := range s.conns {
		c.beginHandoff()
	}
	s.mu.Unlock()
	err := s.waitIdle(ctx)
	if err == nil {
		err = lerr
	}
	return err
}

func (c *conn) beginHandoff() {
	if _, ok := c.rwc.(interface{ File() (*os.File, error) }); !ok {
		// It cannot be passed on (SCGI, AJP): finish it as under Shutdown.
		c.shutdown()
		return
	}
	c.mu.Lock()
	c.handoff = true
	c.mu.Unlock()
	c.closeIfIdle()
}

// stoppedForHandoff reports whether a read error is the reader stopping
// so that an idle connection can be passed on.
func (c *conn) stoppedForHandoff(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handoff && !c.closeIdle && c.quietLocked()
}

// detach passes the idle connection on to Handoff's caller, as a
// duplicate of its descriptor; closing this one then leaves the
// connection open. A connection that cannot be duplicated is closed.
func (c *conn) detach() {
	filer, ok := c.rwc.(interface{ File() (*os.File, error) })
	if !ok {
		return
	}
	f, err := filer.File()
	if err != nil {
		return
	}
	c.srv.mu.Lock()
	pass := c.srv.pass
	c.srv.mu.Unlock()
	pass(f)
}

// ServeConn serves a connection accepted elsewhere, such as one passed on
// by Handoff, in a goroutine of its own, as if Serve had accepted it. It
// returns at once; ErrServerClosed (and rwc closed) after Close.
func (s *Server) ServeConn(rwc net.Conn) error {
	s.init()
	c := s.newConn(context.Background(), rwc)
	if !s.trackConn(c, true) {
		rwc.Close()
		return ErrServerClosed
	}
	go c.serve()
	return nil
}
