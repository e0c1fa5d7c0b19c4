package responder

import (
	"context"
	"errors"
	"net"
	"os"
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
// that request, passing it on cannot. Connections without FCGI_KEEP_CONN,
// and those of NewSCGIListener and NewAJPListener, end as under Shutdown.
// If ctx ends first, Handoff returns what it has and ctx.Err(); call Close
// for the rest.
func (s *Server) Handoff(ctx context.Context) ([]*os.File, error) {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	s.handingOff = true
	lerr := s.closeListenersLocked()
	for c := range s.conns {
		c.beginHandoff()
	}
	s.mu.Unlock()
	err := s.waitIdle(ctx)
	s.mu.Lock()
	files := s.handedOff
	s.handedOff = nil
	s.mu.Unlock()
	if err == nil {
		err = lerr
	}
	return files, err
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
	c.srv.handedOff = append(c.srv.handedOff, f)
	c.srv.mu.Unlock()
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
