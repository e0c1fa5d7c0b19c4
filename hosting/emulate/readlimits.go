package emulate

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// readLimits are what Apache enforces while it reads a request, so that a
// request the host refuses is refused here too.
type readLimits struct {
	// line, field and fields are LimitRequestLine, LimitRequestFieldSize
	// and LimitRequestFields. Apache 2.4.71 lets a line one byte longer
	// than the first two say pass (CRLF not counted), and refuses the
	// next: a request line with 414, a header field with 400; the field
	// after the last allowed gets 400 too.
	line, field, fields int
	// header, headerMax, body and minRate are mod_reqtimeout's
	// RequestReadTimeout header=header-headerMax,MinRate=minRate
	// body=body,MinRate=minRate: each phase has its first duration, and
	// every minRate bytes received extend it by a second, up to headerMax
	// for the headers and without bound for the body.
	header, headerMax, body time.Duration
	minRate                 int64
	// accept is how long a new connection may stay silent before the
	// header timeout starts: Apache's AcceptFilter http data has Linux
	// hold it up to 30 s (TCP_DEFER_ACCEPT) before Apache sees it, so that
	// a connection a browser opens ahead of need is served when it is
	// used, and one never used is closed, without an answer, about 30 s
	// plus the header timeout after it was opened.
	accept time.Duration
}

// stockLimits are Debian 12's: Apache's defaults, and mod_reqtimeout's
// stock configuration (reqtimeout.conf, enabled by default).
var stockLimits = readLimits{
	line: 8190, field: 8190, fields: 100,
	header: 20 * time.Second, headerMax: 40 * time.Second, body: 20 * time.Second, minRate: 500,
	accept: 30 * time.Second,
}

// phase is which of mod_reqtimeout's timeouts runs on a connection.
type phase int

const (
	phaseIdle   phase = iota // before a request: its first byte starts the headers
	phaseHeader              // reading the request line and header fields
	phaseBody                // the handler reads the request body
	phaseNone                // the handler runs, with the body read or none sent
)

// limitedConn is a connection of the emulation, read as Apache reads one:
// it cuts the headers and the body of a request that arrive too slowly,
// and refuses a request line, a header field or a number of fields larger
// than Apache allows, answering as Apache does (408, 414, 400). The
// http.Server serving it sees a closed connection then, and what it would
// write is dropped. Pipelined requests that the server has read ahead are
// not checked: browsers do not pipeline.
type limitedConn struct {
	net.Conn
	lim  *readLimits
	logf func(format string, args ...any)

	mu       sync.Mutex
	phase    phase
	start    time.Time // of the phase
	read     int64     // bytes read in the phase
	line     int       // bytes of the header line being read, CR and LF not counted
	lines    int       // header lines read, the request line first
	deadline time.Time // the server's own read deadline
	refused  bool      // answered and closed: reads fail, writes vanish
	fresh    bool      // no byte read yet
}

// errRefused is what the server reads once the connection has answered a
// request Apache refuses; a read error, so that the server closes it
// without an answer of its own.
var errRefused = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("request refused as Apache refuses it")}

func newLimitedConn(c net.Conn, lim *readLimits, logf func(string, ...any)) *limitedConn {
	return &limitedConn{Conn: c, lim: lim, logf: logf, phase: phaseIdle, start: time.Now(), fresh: true}
}

// phaseDeadline is when the running phase times out; zero for none.
func (c *limitedConn) phaseDeadline() time.Time {
	extra := time.Duration(c.read) * time.Second / time.Duration(c.lim.minRate)
	switch c.phase {
	case phaseIdle:
		if c.fresh {
			return c.start.Add(c.lim.accept + c.lim.header)
		}
	case phaseHeader:
		return c.start.Add(min(c.lim.header+extra, c.lim.headerMax))
	case phaseBody:
		return c.start.Add(c.lim.body + extra)
	}
	return time.Time{}
}

// effectiveDeadline is the earlier of the server's and the phase's.
func (c *limitedConn) effectiveDeadline() time.Time {
	d := c.phaseDeadline()
	if d.IsZero() || !c.deadline.IsZero() && c.deadline.Before(d) {
		return c.deadline
	}
	return d
}

// setPhase starts p now, applying its deadline to a read under way too
// (the server's background read, say).
func (c *limitedConn) setPhase(p phase) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phase, c.start, c.read, c.line, c.lines = p, time.Now(), 0, 0, 0
	c.Conn.SetReadDeadline(c.effectiveDeadline())
}

func (c *limitedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(c.effectiveDeadline())
}

func (c *limitedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *limitedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	refused := c.refused
	c.mu.Unlock()
	if refused {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets the server close its side first, as it does after an
// error it answers, so that the answer is not lost to a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.refused {
		c.mu.Unlock()
		return 0, errRefused
	}
	c.Conn.SetReadDeadline(c.effectiveDeadline())
	c.mu.Unlock()
	n, err := c.Conn.Read(p)

	c.mu.Lock()
	if c.phase == phaseIdle && n > 0 {
		c.phase, c.start, c.read, c.line, c.lines, c.fresh = phaseHeader, time.Now(), 0, 0, 0, false
	}
	c.read += int64(n)
	var answer []byte
	// A connection never used is closed, as Apache closes it, unanswered.
	refuse := c.fresh && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(c.phaseDeadline())
	if c.phase == phaseHeader {
		answer = c.scanHeader(p[:n])
		refuse = answer != nil
		if !refuse && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(c.phaseDeadline()) {
			// As Apache: a request line never completed is closed without
			// an answer; headers cut short get 408.
			refuse = true
			if c.lines > 0 {
				answer = answerTimeout
			}
			c.logf("%s refused: request headers too slow (%d bytes in %s): Apache's mod_reqtimeout (header=%s-%s,MinRate=%d) cuts them too, with 408",
				time.Now().Format("15:04:05"), c.read, time.Since(c.start).Round(time.Millisecond), secs(c.lim.header), secs(c.lim.headerMax), c.lim.minRate)
		}
	}
	c.refused = refuse
	c.mu.Unlock()
	if refuse {
		return 0, c.refuse(answer)
	}
	return n, err
}

// scanHeader follows the header lines in b, returning Apache's answer to
// a line too long or a field too many, or nil; the headers' end ends the
// phase.
func (c *limitedConn) scanHeader(b []byte) []byte {
	for _, ch := range b {
		switch ch {
		case '\r':
			continue
		case '\n':
			if c.line == 0 {
				if c.lines > 0 { // the blank line: the body, if any, is the handler's
					c.phase = phaseNone
					c.Conn.SetReadDeadline(c.effectiveDeadline())
					return nil
				}
				continue // empty lines before the request line are ignored
			}
			c.lines, c.line = c.lines+1, 0
			continue
		}
		if c.line == 0 && c.lines > c.lim.fields {
			c.logf("%s refused: more than %d header fields: Apache (LimitRequestFields %[2]d) answers 400 Bad Request", time.Now().Format("15:04:05"), c.lim.fields)
			return answerFields
		}
		c.line++
		if c.lines == 0 && c.line > c.lim.line+1 {
			c.logf("%s refused: request line over %d bytes: Apache (LimitRequestLine %d) answers 414 Request-URI Too Long; "+
				"send long data in a POST body", time.Now().Format("15:04:05"), c.lim.line+1, c.lim.line)
			return answerLine
		}
		if c.lines > 0 && c.line > c.lim.field+1 {
			c.logf("%s refused: header field %d over %d bytes: Apache (LimitRequestFieldSize %d) answers 400 Bad Request; "+
				"a large cookie?", time.Now().Format("15:04:05"), c.lines, c.lim.field+1, c.lim.field)
			return answerField
		}
	}
	return nil
}

// refuse sends answer (none if nil), closes the sending side and reads
// what the client still sends for up to 2 s, as Apache's lingering close
// does, so that the client reads the answer rather than a reset.
func (c *limitedConn) refuse(answer []byte) error {
	c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if len(answer) > 0 {
		c.Conn.Write(answer)
	}
	c.CloseWrite()
	c.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c.Conn)
	return errRefused
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// Apache's answers to what it refuses while reading a request.
var (
	answerTimeout = apacheAnswer(http.StatusRequestTimeout, "<p>Server timeout waiting for the HTTP request from the client.</p>\n")
	answerLine    = apacheAnswer(http.StatusRequestURITooLong, "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n")
	answerField   = apacheAnswer(http.StatusBadRequest, "<p>Your browser sent a request that this server could not understand.<br />\nSize of a request header field exceeds server limit.</p>\n")
	answerFields  = apacheAnswer(http.StatusBadRequest, "<p>Your browser sent a request that this server could not understand.<br />\nThe number of request header fields exceeds this server's limit.</p>\n")
)

func apacheAnswer(code int, text string) []byte {
	body := "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>" +
		statusText(code) + "</title>\n</head><body>\n<h1>" + http.StatusText(code) + "</h1>\n" + text + "</body></html>\n"
	return []byte("HTTP/1.1 " + statusText(code) + "\r\nServer: " + serverSoftware + "\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" + body)
}

// limitedListener hands out limitedConns.
type limitedListener struct {
	net.Listener
	lim  *readLimits
	logf func(string, ...any)
}

func (l *limitedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newLimitedConn(c, l.lim, l.logf), nil
}

type connKey struct{}

// connContext puts the connection where ServeHTTP finds it.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connState starts the wait for the next request when one is done.
func connState(c net.Conn, s http.ConnState) {
	if lc, ok := c.(*limitedConn); ok && s == http.StateIdle {
		lc.setPhase(phaseIdle)
	}
}

// readingBody starts the body's timeout for r, if it has a body and came
// through a limitedConn, and returns r's body, which ends it at its end;
// without a body, the handler runs without a read timeout, as its server
// reads the connection to see the client go.
func readingBody(r *http.Request) io.ReadCloser {
	c, ok := r.Context().Value(connKey{}).(*limitedConn)
	if !ok {
		return r.Body
	}
	if r.ContentLength == 0 || r.Body == http.NoBody {
		c.setPhase(phaseNone)
		return r.Body
	}
	c.setPhase(phaseBody)
	return &timedBody{ReadCloser: r.Body, c: c}
}

// timedBody ends the body's timeout when the body ends.
type timedBody struct {
	io.ReadCloser
	c    *limitedConn
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.c.setPhase(phaseNone)
	}
	return n, err
}

// bodyTimedOut reports whether err, from reading a request body, is
// mod_reqtimeout's cut.
func bodyTimedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
