package responder

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// lingerTimeout bounds how long a connection that is done waits for the web
// server to close its side, so that closing never resets a response in flight.
const lingerTimeout = 5 * time.Second

var (
	errConnLost = errors.New("fastcgi: connection to the web server lost")
	errAborted  = errors.New("fastcgi: request aborted by the web server (FCGI_ABORT_REQUEST)")
)

// conn is one connection from a web server. A single goroutine reads its
// records; each request's handler runs in a goroutine of its own and writes
// whole records under wmu.
type conn struct {
	srv *Server
	rwc net.Conn
	ctx context.Context

	wmu  sync.Mutex
	werr error // first write failure; the connection is then unusable

	mu          sync.Mutex
	reqs        map[uint16]*request
	ending      int // requests out of reqs whose FCGI_END_REQUEST is not yet written
	handlers    sync.WaitGroup
	closeIdle   bool      // close once no request is in progress
	lastDone    bool      // a request without FCGI_KEEP_CONN ended: no more may begin
	fresh       bool      // no request begun yet: the first is on the way
	accepted    bool      // by Serve, not passed on by a previous run (ServeConn)
	waitedFrom  time.Time // when the reader began waiting for the first record; zero once one came
	handoff     bool      // Handoff: pass the connection on once idle
	lingering   bool      // our side is shut; waiting for the peer's EOF
	idleSince   time.Time // when the last request ended (or the connection began)
	curDeadline time.Time

	// A request served on the reader's goroutine (inline.go).
	inlining    bool          // its handler runs
	closeInline bool          // closeIfIdle left the close to the reader
	inlineRR    *recordReader // the reader's, for watch
	watch       *inlineWatch  // reading on meanwhile; nil until Done is asked for
	ready       *request      // the reader's: its input is complete, to be served inline

	reply []byte // the reader's scratch for management replies
}

func (s *Server) newConn(ctx context.Context, rwc net.Conn) *conn {
	return &conn{srv: s, rwc: rwc, ctx: ctx, idleSince: time.Now(), fresh: true}
}

func (c *conn) serve() {
	rr := newPooledReader(c.rwc)
	log := c.srv.cfg.log
	defer func() {
		rr.release()
		c.rwc.Close()
		c.mu.Lock()
		reqs := c.reqs
		c.reqs = nil
		c.mu.Unlock()
		for _, q := range reqs {
			c.srv.inFlight.Add(-1)
			q.lose(errConnLost)
			q.releaseParams() // of one whose parameters never ended
		}
		c.handlers.Wait()
		c.srv.trackConn(c, false)
	}()
	waitedForRest := false
	for {
		if idle := c.updateReadDeadline(rr.end > rr.start || pendingInput(c.rwc)); idle {
			rr.park()
		}
		first := c.fresh && rr.end == rr.start
		if first {
			c.mu.Lock()
			if c.waitedFrom.IsZero() {
				c.waitedFrom = time.Now()
			}
			c.mu.Unlock()
		}
		h, content, err := rr.next()
		if first && err == nil {
			c.mu.Lock()
			c.waitedFrom = time.Time{}
			c.mu.Unlock()
		}
		if err != nil {
			if c.stoppedForHandoff(err) {
				if rr.end == rr.start && !pendingInput(c.rwc) {
					c.detach()
					return
				}
				if !waitedForRest {
					// A record began to arrive as the reader stopped:
					// read it to its end, serve it, and try again.
					waitedForRest = true
					continue
				}
			}
			c.logReadError(err)
			return
		}
		waitedForRest = false
		if err := c.handleRecord(h, content); err != nil {
			log.Error().Err(err).Str("peer", peerName(c.rwc)).Msg("closing connection")
			return
		}
		if q := c.ready; q != nil {
			c.ready = nil
			if done := c.serveInline(q, &rr); done {
				return
			}
			continue
		}
		if c.fresh && h.recType == typeBeginRequest {
			// Only now, with the first request registered, may Shutdown
			// treat the connection as idle and close it.
			c.mu.Lock()
			c.fresh = false
			c.mu.Unlock()
			c.closeIfIdle()
		}
	}
}

// pendingInput reports input that a wrapped connection (AJP13) has read
// and not yet turned into records: the connection cannot change hands then.
func pendingInput(rwc net.Conn) bool {
	p, ok := rwc.(interface{ pending() bool })
	return ok && p.pending()
}

func (c *conn) logReadError(err error) {
	c.mu.Lock()
	busy, lingering := len(c.reqs), c.lingering
	c.mu.Unlock()
	log := c.srv.cfg.log
	switch {
	case err == io.EOF && busy == 0, lingering, errors.Is(err, net.ErrClosed):
		// The ordinary end of a connection.
	case err == io.EOF:
		log.Debug().Int("requests", busy).Msg("web server closed the connection with requests in progress")
	case errors.Is(err, os.ErrDeadlineExceeded):
		if busy == 0 {
			log.Debug().Str("peer", peerName(c.rwc)).Msg("idle connection closed after IdleTimeout")
		} else {
			log.Warn().Str("peer", peerName(c.rwc)).Msg("web server too slow sending a request (ReadTimeout); connection closed")
		}
	default:
		var pe *ProtocolError
		if errors.As(err, &pe) {
			log.Error().Err(err).Str("peer", peerName(c.rwc)).Msg("closing connection")
		} else {
			log.Debug().Err(err).Msg("reading from web server")
		}
	}
}

func peerName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "unix socket"
}

// updateReadDeadline arms the read deadline for the connection's state:
// IdleTimeout while no request is in progress, ReadTimeout from the oldest
// request still sending its input, none while handlers run. During a
// Handoff an idle connection stops reading at once, unless part of a
// record is buffered (buffered), which must be read to its end first.
// It reports whether no request is in progress.
func (c *conn) updateReadDeadline(buffered bool) (idle bool) {
	cfg := &c.srv.cfg
	c.mu.Lock()
	defer c.mu.Unlock()
	idle = len(c.reqs) == 0
	var d time.Time
	switch {
	case c.lingering, c.fresh && c.closeIdle, c.watch != nil && c.watch.stop.Load():
		return idle
	case c.handoff && !c.closeIdle && c.quietLocked():
		d = handoffDeadline
		if buffered {
			d = time.Now().Add(freshGrace)
		}
	case len(c.reqs) == 0:
		if cfg.IdleTimeout > 0 {
			d = c.idleSince.Add(cfg.IdleTimeout)
		}
	case cfg.ReadTimeout > 0:
		for _, q := range c.reqs {
			if !q.inputDone && (d.IsZero() || q.begun.Before(d)) {
				d = q.begun
			}
		}
		if !d.IsZero() {
			d = d.Add(cfg.ReadTimeout)
		}
	}
	if !d.Equal(c.curDeadline) {
		c.curDeadline = d
		c.rwc.SetReadDeadline(d)
	}
	return idle
}

func (c *conn) handleRecord(h header, content []byte) error {
	if h.id == 0 {
		return c.handleManagement(h, content)
	}
	switch h.recType {
	case typeBeginRequest:
		return c.beginRequest(h.id, content)
	case typeParams, typeStdin, typeData, typeAbortRequest:
	default:
		return c.writeUnknownType(h)
	}
	c.mu.Lock()
	q := c.reqs[h.id]
	alone := len(c.reqs) == 1
	c.mu.Unlock()
	if q == nil {
		// A request already answered (the web server may still be sending
		// input the handler did not want), or one never begun.
		c.srv.cfg.log.Debug().Uint8("type", h.recType).Uint16("request", h.id).Msg("record for a request not in progress ignored")
		return nil
	}
	switch h.recType {
	case typeParams:
		return q.addParams(content)
	case typeStdin:
		return q.addInput(&q.stdin, content, alone)
	case typeData:
		if q.data != nil {
			return q.addInput(q.data, content, alone)
		}
	case typeAbortRequest:
		q.abort()
	}
	return nil
}

func (c *conn) handleManagement(h header, content []byte) error {
	if h.recType != typeGetValues {
		if h.recType == typeBeginRequest || h.recType == typeParams || h.recType == typeStdin {
			return &ProtocolError{Msg: "application record sent with request id 0"}
		}
		return c.writeUnknownType(h)
	}
	var scratch [8]param
	query, err := parsePairs(scratch[:0], string(content), len(scratch))
	if err != nil && !errors.Is(err, errPairTooMany) {
		return &ProtocolError{Msg: "FCGI_GET_VALUES: " + err.Error()}
	}
	pairs := appendGetValuesResult(nil, query, c.srv.cfg.MaxConns, c.srv.cfg.MaxConcurrentRequests)
	c.reply = appendRecord(c.reply[:0], typeGetValuesResult, 0, pairs)
	return c.write(c.reply)
}

func (c *conn) writeUnknownType(h header) error {
	c.srv.cfg.log.Warn().Uint8("type", h.recType).Uint16("request", h.id).Msg("record type unknown for this request id; answered FCGI_UNKNOWN_TYPE")
	var body [8]byte
	body[0] = h.recType
	c.reply = appendRecord(c.reply[:0], typeUnknownType, 0, body[:])
	return c.write(c.reply)
}

func (c *conn) beginRequest(id uint16, content []byte) error {
	if len(content) != 8 {
		return &ProtocolError{Msg: "FCGI_BEGIN_REQUEST body is " + strconv.Itoa(len(content)) + " bytes, want 8"}
	}
	role := Role(binary.BigEndian.Uint16(content[:2]))
	keepConn := content[2]&flagKeepConn != 0
	c.mu.Lock()
	if c.lastDone {
		// The web server let the connection close with its last request;
		// one that begins while it does would be cut off, so none does.
		c.mu.Unlock()
		c.srv.cfg.log.Warn().Msg("FCGI_BEGIN_REQUEST after a request without FCGI_KEEP_CONN ignored: the connection is closing")
		return nil
	}
	if _, busy := c.reqs[id]; busy {
		c.mu.Unlock()
		return &ProtocolError{Msg: "FCGI_BEGIN_REQUEST for request " + strconv.Itoa(int(id)) + ", which is still in progress"}
	}
	onConn := len(c.reqs)
	c.mu.Unlock()

	handler := c.srv.handlerFor(role)
	status := statusRequestComplete
	switch {
	case handler == nil:
		status = statusUnknownRole
		c.srv.cfg.log.Warn().Stringer("role", role).Msg("request refused: no handler for this FastCGI role (FCGI_UNKNOWN_ROLE)")
	case onConn >= c.srv.cfg.MaxRequestsPerConn:
		status = statusOverloaded
		c.srv.cfg.log.Warn().Int("limit", c.srv.cfg.MaxRequestsPerConn).Msg("request refused: MaxRequestsPerConn reached on this connection (FCGI_OVERLOADED)")
	case c.srv.inFlight.Add(1) > int64(c.srv.cfg.MaxConcurrentRequests):
		c.srv.inFlight.Add(-1)
		status = statusOverloaded
		c.srv.cfg.log.Warn().Int("limit", c.srv.cfg.MaxConcurrentRequests).Msg("request refused: MaxConcurrentRequests reached (FCGI_OVERLOADED)")
	}
	if status != statusRequestComplete {
		c.reply = appendEndRequest(c.reply[:0], id, 0, status)
		err := c.write(c.reply)
		if !keepConn {
			c.mu.Lock()
			c.closeIdle, c.lastDone = true, true
			c.mu.Unlock()
			c.closeIfIdle()
		}
		return err
	}
	q := newRequest(c, id, role, keepConn, handler)
	c.mu.Lock()
	if c.reqs == nil {
		c.reqs = make(map[uint16]*request)
	}
	c.reqs[id] = q
	c.mu.Unlock()
	return nil
}

// inputComplete is called by the reader when a request's input has arrived.
func (c *conn) inputComplete(q *request) {
	c.mu.Lock()
	q.inputDone = true
	c.mu.Unlock()
}

// startHandler runs q's handler in its own goroutine.
func (c *conn) startHandler(q *request) {
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		q.serve()
	}()
}

// end removes a request that is about to send its FCGI_END_REQUEST, so the
// web server may reuse its id as soon as it reads that record. Until ended
// is called the connection is not idle: closing or passing it on now would
// lose that record. end reports whether no other request is in progress.
func (c *conn) end(q *request) (alone bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reqs[q.id] == q {
		delete(c.reqs, q.id)
		c.srv.inFlight.Add(-1)
	}
	if !q.keepConn {
		c.closeIdle, c.lastDone = true, true
	}
	c.ending++
	if len(c.reqs) == 0 {
		c.idleSince = time.Now()
	}
	return len(c.reqs) == 0
}

// closeWhenQuiet lets no request begin: the connection closes once no
// request is in progress and none is still writing its FCGI_END_REQUEST
// (closeIfIdle, from the last one's ended).
func (c *conn) closeWhenQuiet() {
	c.mu.Lock()
	c.closeIdle, c.lastDone = true, true
	c.mu.Unlock()
}

// ended follows end once FCGI_END_REQUEST is written (or cannot be).
func (c *conn) ended() {
	c.mu.Lock()
	c.ending--
	c.mu.Unlock()
	c.closeIfIdle()
}

// quietLocked reports whether the connection has nothing to send: no
// request in progress and none still writing its end. c.mu is held.
func (c *conn) quietLocked() bool { return len(c.reqs) == 0 && c.ending == 0 }

// closeIfIdle shuts the connection down gently once it has no request in
// progress and should not be kept: it shuts our side for writing and lets
// the reader wait (up to lingerTimeout) for the web server to close, since
// closing with unread input would reset the connection and could destroy
// the response still on its way.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	if c.handoff && !c.closeIdle && c.quietLocked() {
		// Stop the reader so that the connection can be passed on.
		c.curDeadline = handoffDeadline
		c.rwc.SetReadDeadline(handoffDeadline)
		c.mu.Unlock()
		return
	}
	if !c.closeIdle || !c.quietLocked() || c.lingering {
		c.mu.Unlock()
		return
	}
	c.lingering = true
	defer c.mu.Unlock()
	if c.inlining {
		c.closeInline = true // once the handler has returned
		return
	}
	c.linger()
}

// linger shuts our side of the connection for writing and lets the reader
// wait for the web server's EOF; it closes at once what cannot be shut
// half-way.
func (c *conn) linger() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
		return
	}
	c.rwc.Close()
}

// freshGrace is how long Shutdown waits for the first request of a
// connection accepted just before: web servers send it right after
// connecting, and closing the connection would lose it.
const freshGrace = time.Second

// shutdown makes the connection close once its requests are done.
func (c *conn) shutdown() {
	c.mu.Lock()
	c.closeIdle = true
	if c.fresh {
		c.curDeadline = time.Now().Add(freshGrace)
		c.rwc.SetReadDeadline(c.curDeadline)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.closeIfIdle()
}

func (c *conn) close() { c.rwc.Close() }

// write sends whole records. After a failed write the connection is closed:
// a partly written record leaves the stream unusable for every request.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	if wt := c.srv.cfg.WriteTimeout; wt > 0 {
		c.rwc.SetWriteDeadline(time.Now().Add(wt))
	}
	if _, err := c.rwc.Write(b); err != nil {
		c.werr = err
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.srv.cfg.log.Warn().Str("peer", peerName(c.rwc)).Msg("web server stopped reading the response (WriteTimeout); connection closed")
		}
		c.rwc.Close()
		return err
	}
	return nil
}
