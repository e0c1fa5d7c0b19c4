package responder

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
)

// A connection that carries one request and then closes (no
// FCGI_KEEP_CONN: Apache mod_fcgid, lighttpd, mod_proxy_fcgi without
// enablereuse) is served on its reader's goroutine once the request has
// arrived, with no hand-off to a goroutine of its own: a process spawned by
// mod_fcgid is woken for each request, and each goroutine that is readied
// wakes an idle thread, which costs more than the request.
//
// The reader stops reading meanwhile. Only if the handler asks for its
// context's Done (to learn that the web server aborted the request or
// went away) does a goroutine read on for it, as the reader would have.

// reqContext is a request's context: cancelled with the request, it finds
// the request (fromRequest) and starts the watch of an inline request's
// connection when Done is first asked for.
type reqContext struct {
	context.Context
	q *request
}

func (x *reqContext) Value(key any) any {
	if key == (ctxKey{}) {
		return x.q
	}
	return x.Context.Value(key)
}

func (x *reqContext) Done() <-chan struct{} {
	x.q.c.watchInline()
	return x.Context.Done()
}

// mayServeInline reports whether q, whose parameters have just ended, is
// to be served on the reader's goroutine: alone on a connection that ends
// with it, and with a declared body (CONTENT_LENGTH, which mod_fcgid
// always sends, 0 without a body) that fits the memory buffer, since the
// handler reads it only once it has arrived. A body of unknown length may
// be streamed by the web server (nginx without request buffering): its
// handler reads it as it comes, on a goroutine of its own.
func (c *conn) mayServeInline(q *request) bool {
	if q.keepConn || q.role == RoleFilter {
		return false
	}
	if n := q.stdin.declared(); n < 0 || n > int64(c.srv.cfg.BodyBufferBytes) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs) == 1
}

// inlineWatch is the goroutine that reads on while an inline handler runs.
type inlineWatch struct {
	stop atomic.Bool
	done chan struct{}
	err  error // why it stopped, when not asked to: the connection is done
}

// serveInline runs q's handler on the reader's goroutine. It reports
// whether the connection is done with, closed or lost.
func (c *conn) serveInline(q *request, rr *recordReader) (done bool) {
	c.mu.Lock()
	c.inlineRR = rr
	c.inlining = true
	c.mu.Unlock()
	q.started = true
	q.serve()
	c.mu.Lock()
	c.inlining = false
	w := c.watch
	closeNow := c.closeInline
	c.closeInline = false
	if w != nil {
		// Stop its read, which updateReadDeadline leaves alone now.
		w.stop.Store(true)
		c.curDeadline = handoffDeadline
		c.rwc.SetReadDeadline(handoffDeadline)
	}
	c.mu.Unlock()
	if w != nil {
		<-w.done
		c.mu.Lock()
		c.watch = nil
		c.mu.Unlock()
		if w.err != nil {
			c.logReadError(w.err)
			return true
		}
	}
	if !closeNow {
		return false
	}
	if a := c.rwc.LocalAddr(); a != nil && a.Network() == "unix" {
		// A unix socket closed with input unread still delivers what
		// was sent before the close: nothing to linger for.
		c.rwc.Close()
		return true
	}
	c.linger()
	return false
}

// watchInline starts, once, the goroutine that reads the connection while
// an inline handler runs, so that an FCGI_ABORT_REQUEST or the web server
// going away cancels the request's context as it would have otherwise.
func (c *conn) watchInline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.inlining || c.watch != nil {
		return
	}
	w := &inlineWatch{done: make(chan struct{})}
	c.watch = w
	go c.readInline(w, c.inlineRR)
}

func (c *conn) readInline(w *inlineWatch, rr *recordReader) {
	defer close(w.done)
	for {
		c.updateReadDeadline(true)
		h, content, err := rr.next()
		if err == nil {
			err = c.handleRecord(h, content)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && w.stop.Load() {
			return // asked to stop, between records or within one
		}
		w.err = err
		c.mu.Lock()
		reqs := make([]*request, 0, len(c.reqs))
		for _, q := range c.reqs {
			reqs = append(reqs, q)
		}
		c.mu.Unlock()
		for _, q := range reqs {
			q.lose(errConnLost)
		}
		return
	}
}
